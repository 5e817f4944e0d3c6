// The pair's backup side: following the primary's stream into the image, and the takeover.
#include "hypervisor/console/console_mux.hpp"
#include "replication/sessions/pair_session.hpp"
#include "replication/sessions/takeover.hpp"

namespace tandem::sessions {

Status PairSession::start_backup() {
    const Config& config = machine_.config();
    // Lockstep: the image is kept apart from the RAM the backup's own guest runs on.
    image_.emplace(lockstep() ? reference_ : machine_.ram(), slots_, staged_gpa_, bits_.subspan(2 * words_, words_));
    decoder_.emplace(*image_);
    engine::ProbeSender* probe_sender = &no_prober_;
    if (config.has_guest_mac && machine_.client_nic() != nullptr) {
        prober_.emplace(*machine_.client_nic(), secret_, out_);
        probe_sender = &*prober_;
    }
    backup_.emplace(*image_, *decoder_, *transport_, machine_.clock(), *probe_sender, out_);
    if (prober_) prober_->attach(*backup_);
    messages_.target = &*backup_;
    if (lockstep()) start_lockstep_backup();
    engine::BackupOptions bo;
    if (auto s = backup_->listen(transport_config(), secret_, machine_.random(), bo); !s) {
        report_problem(out_, "the replication link", s.error());
        return s;
    }
    nic::NicInfo info = machine_.link_nic()->info();
    println(out_, "pair: backup over {} ({}), {}; takes over after {} ms of silence{}", info.driver,
            ColonHex{info.mac.bytes, 6}, secret_.insecure ? "INSECURE link (insecure_link=1)" : "link authenticated and encrypted",
            config.failover_ms,
            prober_ ? " and no answer on the client network"
                    : " (no client network: no split-brain probe possible; guest_mac= gives one)");
    link::warn_if_insecure(out_, secret_);
    ConsoleMux::announce_ready(out_);
    phase_ = Phase::following;
    return success();
}

Session::Next PairSession::poll_backup() {
    backup_->listening();
    feed_->receive();
    if (prober_) prober_->receive();
    bool take_over_now = backup_->poll();
    sample_throughput();
    if (lockstep()) return poll_lockstep_backup(take_over_now || takeover_due_);
    if (!take_over_now) return Next::wait;
    if (auto s = take_over(); !s) {
        report_problem(out_, "the takeover", s.error());
        phase_ = Phase::failed;
        return Next::finished;
    }
    return Next::run_guest;
}

// The committed epoch becomes the running guest: vCPU and devices restored strictly, the guest
// announced on the client network, this machine the primary.
Status PairSession::take_over() {
    std::uint64_t began_ns = machine_.clock().now_ns();
    if (auto s = lockstep() ? lockstep_takeover_state() : restore_committed_state(machine_, *image_); !s) return s;
    announce_guest(machine_);
    if (auto s = become_primary(true); !s) return s;
    took_over_ = true;
    takeover_handed_ = backup_->handed_over();
    took_over_at_ = machine_.now();
    takeover_epoch_ = image_->committed_epoch();
    bool live = lockstep() && backup_guest_running_;
    println(out_, "pair: the guest resumes here from epoch {} at rip {}{}", live ? lockstep_backup_->generation() : image_->committed_epoch(),
            hex(machine_.guest_rip()), live ? " (lockstep: this machine's own guest, running since that epoch)" : "");
    if (!takeover_handed_) report_takeover_stages(backup_->takeover_times(), began_ns, machine_.clock().now_ns());
    if (target()) {
        println(out_, "migrate: the guest runs here now ({}); this machine is its primary, unprotected until a backup "
                      "joins", takeover_handed_ ? "moved here by its primary" : "its primary fell silent: a failover");
    }
    return success();
}

// What the failover gap is made of (issue 17), from the primary's last authenticated frame on
// the link: the silence timeout and the poll that noticed it, the probe window on the client
// network, and the restore with the guest's announcement. The clients' next retry comes on top.
void PairSession::report_takeover_stages(const engine::TakeoverTimes& t, std::uint64_t began_ns, std::uint64_t done_ns) {
    auto since_heard_ms = [&](std::uint64_t at) { return at > t.last_heard_ns ? (at - t.last_heard_ns) / 1'000'000 : 0; };
    println(out_, "pair: takeover stages from the primary's last frame on the link: silence noticed at {} ms, probe "
                  "window over at {} ms, guest restored and announced at {} ms (in {} us)",
            since_heard_ms(t.silence_noticed_ns), since_heard_ms(t.decided_ns), since_heard_ms(done_ns),
            done_ns > began_ns ? (done_ns - began_ns) / 1000 : 0);
}

}  // namespace tandem::sessions
