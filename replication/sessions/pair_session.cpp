#include "replication/sessions/pair_session.hpp"

#include "hypervisor/console/console_mux.hpp"

namespace tandem::sessions {
namespace {
constexpr std::uint64_t kPage = checkpoint::kPageSize;
}  // namespace

Status PairSession::allocate() {
    MemorySource& memory = machine_.memory();
    std::uint64_t size = machine_.config().guest_mem;
    std::uint64_t pages = size / kPage;
    words_ = dirty::DirtyBitmap::words_for(pages);
    Status b = memory.guest_sized(size, slots_);
    Status r = b ? memory.guest_sized(size, reference_) : b;
    auto slot_of_page = memory.zeroed_array<std::uint32_t>(pages);
    auto staged_gpa = memory.zeroed_array<std::uint64_t>(pages);
    auto bits = memory.zeroed_array<std::uint64_t>(3 * words_);
    auto queue = memory.zeroed(kStreamQueueBytes);
    auto output = memory.zeroed(kOutputFrames * engine::OutputCommitBuffer::kSlotSize);
    if (!r || !slot_of_page || !staged_gpa || !bits || !queue || !output) {
        return Error::of("not enough memory: a protected pair needs about 3 times guest_mem; bytes of guest RAM", size);
    }
    if (lockstep()) {
        if (auto s = allocate_lockstep(); !s) return s;
    }
    slot_of_page_ = *slot_of_page;
    staged_gpa_ = *staged_gpa;
    bits_ = *bits;
    queue_storage_ = *queue;
    output_storage_ = *output;
    return success();
}

// The engine's bitmaps, the stream queue and encoder, the output-commit buffer in front of the
// client NIC (or of nothing, without a guest network).
void PairSession::build_engine_parts() {
    std::uint64_t pages = machine_.config().guest_mem / kPage;
    current_ = dirty::DirtyBitmap(bits_.subspan(0, words_), pages);
    sending_ = dirty::DirtyBitmap(bits_.subspan(words_, words_), pages);
    queue_.emplace(queue_storage_);
    encoder_.emplace(*queue_);
    virtio::NetBackend* backend = &no_network_;
    if (machine_.config().has_guest_mac && machine_.client_nic() != nullptr) {
        client_sender_.emplace(*machine_.client_nic());
        backend = &*client_sender_;
    }
    output_.emplace(output_storage_, *backend);
    if (lockstep()) build_lockstep_parts(*backend);
}

Status PairSession::open_link() {
    nic::Nic& link_nic = *machine_.link_nic();
    const Config& config = machine_.config();
    link::UdpEnvelope* envelope = nullptr;
    if (config.link_over_udp) {
        envelope_.emplace(link::udp_route(config, link_nic.info().mac), machine_.clock());
        envelope = &*envelope_;
        const std::uint8_t(&hop)[4] = config.has_link_gateway ? config.link_gateway : config.peer_ip;
        println(out_, "link: UDP/IPv4 from {}.{}.{}.{}/{} to {}.{}.{}.{}, port {}, via {}.{}.{}.{} (its MAC found by ARP)",
                config.link_ip[0], config.link_ip[1], config.link_ip[2], config.link_ip[3], config.link_prefix,
                config.peer_ip[0], config.peer_ip[1], config.peer_ip[2], config.peer_ip[3], config.link_port, hop[0],
                hop[1], hop[2], hop[3]);
    }
    channel_.emplace(link_nic, envelope);
    transport_.emplace(*channel_, machine_.clock(), messages_);
    feed_.emplace(link_nic, *transport_, envelope);
    return success();
}

link::TransportConfig PairSession::transport_config() const {
    const Config& config = machine_.config();
    nic::NicInfo info = machine_.link_nic()->info();
    link::TransportConfig tc;
    tc.local_mac = info.mac;
    tc.has_peer_mac = config.has_peer_mac;
    tc.peer_mac = config.peer_mac;
    // Over UDP/IPv4 a transport frame (its Ethernet header kept) rides inside IPv4 and UDP headers.
    tc.mtu = config.link_over_udp ? info.mtu - static_cast<std::uint32_t>(net::kUdpIpv4Overhead) : info.mtu;
    tc.guest_memory = config.guest_mem;
    tc.pair_mode = lockstep() ? PairMode::lockstep : PairMode::checkpoint;
    tc.timing.silence_timeout_ns = static_cast<std::uint64_t>(config.failover_ms) * 1'000'000;
    if (config.link_version != 0) tc.protocol_version = static_cast<std::uint8_t>(config.link_version);
    return tc;
}

Status PairSession::start() {
    const Config& config = machine_.config();
    auto secret = machine_.link_secret();
    if (!secret) {
        println(out_, "link: {}", secret.error());
        report_problem(out_, "the replication link", Error::of("no usable link key"));
        return secret.error();
    }
    secret_ = *secret;
    if (auto s = machine_.open_nics(true, config.has_guest_mac); !s) {
        report_problem(out_, "the NICs of the pair", s.error());
        return s;
    }
    auto method = machine_.dirty_tracking();
    if (!method) {
        report_problem(out_, "dirty tracking", method.error());
        return method.error();
    }
    method_ = *method;
    if (auto s = allocate(); !s) {
        report_problem(out_, "the pair's memory", s.error());
        return s;
    }
    build_engine_parts();
    GuestPlan plan;
    plan.load_guest = config.role == Role::primary;
    plan.checkpointing = true;
    plan.net_output = &*output_;
    plan.net_note = ", output through the commit buffer";
    if (lockstep()) {
        plan.net_output = config.role == Role::primary ? static_cast<virtio::NetBackend*>(&*lockstep_primary_)
                                                       : static_cast<virtio::NetBackend*>(&*lockstep_backup_);
        plan.net_note = ", output compared with the other guest's (lockstep)";
    }
    if (auto s = machine_.prepare_guest(plan); !s) return s;
    tracker_.emplace(method_, machine_.dirty_control(), machine_.pml_log(), current_);
    if (auto s = open_link(); !s) return s;
    register_commands();
    if (config.role == Role::backup) return start_backup();
    if (auto s = become_primary(false); !s) return s;
    ConsoleMux::announce_ready(out_);
    return success();
}

Session::Next PairSession::poll() {
    switch (phase_) {
    case Phase::following: return poll_backup();
    case Phase::running: return throttle_paused_ ? poll_throttled() : Next::run_guest;
    case Phase::ended:
        // The link stays up so that the backup does not take over a finished guest.
        feed_->receive();
        transport_->poll();
        return Next::wait;
    case Phase::failed: return Next::finished;
    case Phase::switching: return poll_switchover();
    case Phase::handing_over: return poll_handover();
    case Phase::handed_over: return Next::wait;  // silent on the link and the client network
    }
    return Next::finished;
}

void PairSession::enter_switching() {
    phase_ = Phase::switching;
    switch_since_ = machine_.now();
    captured_at_stop_ = primary_->epochs_captured();
    final_known_ = false;
    println(out_, "{}: the guest has stopped here; its last epoch goes to the {}", switch_name(), peer_name());
}

void PairSession::guest_ended(const GuestEnd& end) {
    if (phase_ == Phase::following) return;  // a lockstep backup's guest, stopped for a checkpoint or a takeover
    if (end.kind == GuestEnd::Kind::stopped && end.reason == kThrottlePause) {
        throttle_paused_ = true;  // not an end: the guest sits out the rest of its period
        throttle_polled_at_ = machine_.now();
        return;
    }
    machine_.report_guest_end(end);
    if (switchover_asked_) return enter_switching();
    if (handover_asked_) {
        begin_handover();
        println(out_, "failover: the guest has stopped here for good; telling the backup to take it over");
        return;
    }
    println(out_, "pair: the guest ended; the link stays up so the backup does not take over a finished guest");
    phase_ = Phase::ended;
}

}  // namespace tandem::sessions
