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
}

Status PairSession::open_link() {
    nic::Nic& link_nic = *machine_.link_nic();
    channel_.emplace(link_nic);
    transport_.emplace(*channel_, machine_.clock(), messages_);
    feed_.emplace(link_nic, *transport_);
    return success();
}

link::TransportConfig PairSession::transport_config() const {
    const Config& config = machine_.config();
    nic::NicInfo info = machine_.link_nic()->info();
    link::TransportConfig tc;
    tc.local_mac = info.mac;
    tc.has_peer_mac = config.has_peer_mac;
    tc.peer_mac = config.peer_mac;
    tc.mtu = info.mtu;
    tc.guest_memory = config.guest_mem;
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
    case Phase::running: return Next::run_guest;
    case Phase::ended:
        // The link stays up so that the backup does not take over a finished guest.
        feed_->receive();
        transport_->poll();
        return Next::wait;
    case Phase::failed: return Next::finished;
    }
    return Next::finished;
}

void PairSession::guest_ended(const GuestEnd& end) {
    machine_.report_guest_end(end);
    println(out_, "pair: the guest ended; the link stays up so the backup does not take over a finished guest");
    phase_ = Phase::ended;
}

void PairSession::status(Writer& out) const {
    if (primary_) {
        report_guest_status(out, machine_, " here", took_over_ ? " (this machine took over as primary)" : "");
        primary_->status(out);
    } else if (backup_) {
        backup_->status(out);
    }
}

void PairSession::command_status(void* context, std::string_view, Writer& out) {
    static_cast<const PairSession*>(context)->status(out);
}

void PairSession::command_link(void* context, std::string_view, Writer& out) {
    static_cast<PairSession*>(context)->transport_->report(out);
}

void PairSession::command_epoch(void* context, std::string_view args, Writer& out) {
    auto* self = static_cast<PairSession*>(context);
    if (!self->primary_) {
        println(out, "epoch: this machine is the backup: the primary sets the epoch");
        return;
    }
    engine::PrimaryReplicator& primary = *self->primary_;
    if (args.empty()) {
        println(out, "epoch: {} ms", primary.epoch_ms());
        return;
    }
    auto ms = Shell::number_argument(args, kMinEpochMs, kMaxEpochMs);
    if (!ms) {
        println(out, "epoch: the length is a whole number of milliseconds from {} to {} (not '{}')", kMinEpochMs,
                kMaxEpochMs, args);
        return;
    }
    std::uint32_t was = primary.epoch_ms();
    self->epoch_ms_ = static_cast<std::uint32_t>(*ms);
    primary.set_epoch(self->epoch_ms_, self->machine_.tsc_khz() * *ms);
    println(out, "epoch: {} ms from the next epoch boundary on (was {} ms)", *ms, was);
}

void PairSession::register_commands() {
    Shell& shell = machine_.shell();
    (void)shell.add({"epoch", "the epoch length: show it, or set it on the primary", command_epoch, this, "[ms]"});
    (void)shell.add({"status", "the pair's state: protection, epochs, the guest", command_status, this});
    (void)shell.add({"link", "the replication link's state and counters", command_link, this});
}

}  // namespace tandem::sessions
