// The guest handed from a primary to its backup on the primary's console (issues 15 and 16), by
// an authenticated notice in order after the last pages (engine/pair_notice.hpp): the backup
// takes over from its committed epoch at once instead of waiting failover_ms for silence.
//
// `failover`: the guest stops here for good and the notice goes out at once; the backup resumes
// the last epoch it committed (what the guest did since is lost, as in any failover, and its
// output was never released). This machine then closes its link and runs nothing.
//
// `switchover` (planned, nothing lost): the guest stops; the primary keeps running epochs until
// one captured after the stop — all of the guest — is acknowledged (its output then released);
// only then the notice goes out, the backup resumes exactly where the guest stopped, and this
// machine rejoins as its backup. If the backup does not acknowledge that epoch in time, or is lost,
// the notice was never sent, so the guest resumes here and the switchover is called off.
//
// Exactly one machine runs the guest. While it waits for the notice's acknowledgement this machine
// does not answer the backup's probes: a backup that missed the notice (the link failed) takes over
// as at any failure, from its committed epoch — after a switchover's or migration's last epoch, all
// of the guest. If the acknowledgement has not come within twice failover_ms, whether the peer runs
// the guest cannot be known on the link: this machine asks on the client network (handover_probe.hpp)
// and from then on answers the backup's probes (so none takes over while it asks, or after it
// resumed). An answer: the peer runs the guest; this machine goes on as if acknowledged (silent
// after a failover or migration, a new backup after a switchover). None within failover_ms: the peer
// does not run it (it died, or holds no protected epoch); the guest resumes here on a new link
// session, so the old notice can never arrive later. Without a client network there is nothing to
// ask: this machine goes on as if acknowledged, and the backup, if it missed the notice, takes over
// at this machine's silence.
#include "replication/sessions/pair_session.hpp"

namespace tandem::sessions {
namespace {

// While its guest is stopped for a hand-over this machine still answers the backup's probes on
// the client network (it lives, and resumes the guest if the hand-over is called off) and takes
// the replies to its own (set_reply_sink); the guest's own frames are not delivered (its memory
// must not change after its last epoch): they are lost, as on a wire, and the client retries.
class ProbesOnly final : public nic::FrameSink {
public:
    explicit ProbesOnly(ProbeResponder& responder) : responder_(responder) {}
    void frame(nic::Frame f) override { (void)responder_.handle(f); }

private:
    ProbeResponder& responder_;
};

}  // namespace

void PairSession::answer_probes() {
    if (responder_ && machine_.client_nic() != nullptr) {
        ProbesOnly probes(*responder_);
        machine_.client_nic()->receive(probes, 64);
    }
}

bool PairSession::may_hand_over(const char* command, Writer& out) const {
    if (!primary_) {
        println(out, "{}: this machine is the backup: run {} on the primary (taking over while the primary runs would "
                     "run the guest twice)", command, command);
        return false;
    }
    if (phase_ != Phase::running || handover_asked_ || switchover_asked_) {
        println(out, "{}: the guest does not run here (nothing to hand over)", command);
        return false;
    }
    if (migrate_armed_) {
        println(out, "{}: refused: a migration is under way ('migrate cancel' calls it off)", command);
        return false;
    }
    if (lockstep() && std::string_view{command} != "failover") {
        println(out, "{}: not available in lockstep yet (failover is: the backup's guest runs on from where it is)",
                command);
        return false;
    }
    if (!primary_->can_hand_over()) {
        println(out, "{}: refused: no backup holds a protected epoch yet, so none could take the guest over (wait for "
                     "'pair: PROTECTED')", command);
        return false;
    }
    return true;
}

void PairSession::failover(Writer& out) {
    if (!may_hand_over("failover", out)) return;
    handover_asked_ = true;
    println(out, "failover: stopping the guest here; the backup takes it over from its committed epoch (epoch {} or later)",
            primary_->acked_epoch());
    machine_.stop_guest("failover asked on the console");
}

void PairSession::switchover(Writer& out) {
    if (!may_hand_over("switchover", out)) return;
    switchover_asked_ = true;
    println(out, "switchover: stopping the guest here; it goes on at the backup once the backup holds its last epoch");
    machine_.stop_guest("switchover asked on the console");
}

// The guest is stopped: epochs go on (each one small) until the first captured after the stop is
// acknowledged. Polled by the idle loop; the replicator runs at the tick rate, as with a guest.
Session::Next PairSession::poll_switchover() {
    std::uint64_t now = machine_.now(), tick = machine_.tsc_khz();
    feed_->receive();
    answer_probes();
    if (now - switch_polled_at_ >= tick) {
        switch_polled_at_ = now;
        if (auto s = primary_->tick(); !s) return abort_switchover("the replication failed");
    }
    if (primary_->phase() != engine::PrimaryReplicator::Phase::protecting || !primary_->can_hand_over()) {
        return abort_switchover("the backup was lost");
    }
    if (!final_known_ && primary_->epochs_captured() > captured_at_stop_) {
        final_known_ = true;
        final_epoch_ = primary_->last_captured_epoch();
    }
    if (final_known_ && primary_->acked_epoch() >= final_epoch_) {
        println(out_, "{}: the {} holds epoch {}, all of the guest ({} ms after the stop); handing it over",
                switch_name(), peer_name(), final_epoch_, (now - switch_since_) / tick);
        begin_handover();
        return Next::wait;
    }
    if (now - switch_since_ > 2 * tick * machine_.config().failover_ms) {
        return abort_switchover("the backup did not acknowledge the guest's last epoch in time");
    }
    return Next::wait;
}

Session::Next PairSession::abort_switchover(const char* why) {
    println(out_, "{}: called off: {}; the guest resumes here (nothing was handed over)", switch_name(), why);
    return resume_guest_here();
}

// A hand-over called off: no migration, switchover or failover under way any more.
Session::Next PairSession::resume_guest_here() {
    handover_asked_ = false;
    switchover_asked_ = false;
    migrating_ = false;
    migrate_armed_ = false;
    end_throttle();
    phase_ = Phase::running;
    return Next::run_guest;
}

void PairSession::begin_handover() {
    transport_->set_quiet_to_newcomers();  // the backup comes back as the new primary
    phase_ = Phase::handing_over;
    handover_sent_ = false;
    handover_since_ = machine_.now();
}

Session::Next PairSession::poll_handover() {
    feed_->receive();
    if (handover_probe_.active()) return poll_handover_probe();
    if (!handover_sent_) handover_sent_ = primary_->send_handover();
    transport_->poll();
    if (handover_sent_ && transport_->acked_everything()) {
        finish_handover(migrating_ ? "the target has the notice and takes over" : "the backup has the notice and takes over");
    } else if (machine_.now() - handover_since_ > 2 * machine_.tsc_khz() * machine_.config().failover_ms) {
        if (!responder_ || machine_.client_nic() == nullptr) {
            finish_handover(migrating_ ? "the target did not acknowledge the notice (no client network to ask on); it "
                                         "takes over when it finds this machine silent"
                                       : "the backup did not acknowledge the notice (no client network to ask on); it "
                                         "takes over when it finds this machine silent");
            return Next::wait;
        }
        println(out_, "{}: the {} did not acknowledge the notice within {} ms; asking on the client network whether it "
                      "runs the guest",
                handover_name(), peer_name(), 2 * machine_.config().failover_ms);
        SessionMachine::Random64 random = machine_.random();
        handover_probe_.start(machine_.clock().now_ns(), std::uint64_t{machine_.config().failover_ms} * 1'000'000,
                              random(), random());
        responder_->set_reply_sink(&handover_probe_);
    }
    return Next::wait;
}

// The answer decides which machine runs the guest; the link stays polled (heartbeats: a backup
// that missed the notice hears this machine alive).
Session::Next PairSession::poll_handover_probe() {
    answer_probes();
    transport_->poll();
    std::uint64_t now = machine_.clock().now_ns();
    HandoverProbe::Verdict verdict = handover_probe_.poll(now, *responder_);
    if (verdict == HandoverProbe::Verdict::asking) return Next::wait;
    handover_probe_.stop();
    responder_->set_reply_sink(nullptr);
    if (verdict == HandoverProbe::Verdict::unanswered) return resume_after_handover();
    finish_handover(migrating_ ? "the target runs the guest (it answered on the client network; its acknowledgement "
                                 "was lost)"
                               : "the backup runs the guest (it answered on the client network; its acknowledgement "
                                 "was lost)");
    return Next::wait;
}

// Nothing answered for the guest: the notice never took effect. The guest resumes where it
// stopped, unprotected until a backup joins the new link session.
Session::Next PairSession::resume_after_handover() {
    println(out_, "{}: called off: the {} neither acknowledged the notice nor answers for the guest on the client "
                  "network ({} probes in {} ms); the guest resumes here",
            handover_name(), peer_name(), handover_probe_.probes_sent(),
            handover_probe_.elapsed_ns(machine_.clock().now_ns()) / 1'000'000);
    primary_->withdraw_handover("the hand-over notice went unacknowledged");
    return resume_guest_here();
}

void PairSession::finish_handover(const char* how) {
    if (migrating_) return finish_migration(how);
    if (switchover_asked_) {
        println(out_, "switchover: {}; this machine becomes its backup", how);
        rejoin_as_backup();
        return;
    }
    phase_ = Phase::handed_over;
    transport_->close();
    println(out_, "failover: {}; this machine now runs nothing and stays silent ('reprotect' makes it the backup of "
                  "the machine that runs the guest)",
            how);
}

void PairSession::command_reprotect(void* context, std::string_view, Writer& out) {
    static_cast<PairSession*>(context)->reprotect(out);
}

// After a failover or a migration this machine runs nothing and is silent; `reprotect` makes it
// the backup of the machine that now runs the guest (which accepts one, as any primary without a
// backup does), without a restart. Everything else protects itself: a primary takes a backup when
// one joins, a backup that took over accepts a new one, a switchover rejoins by itself.
void PairSession::reprotect(Writer& out) {
    if (phase_ == Phase::handed_over) {
        println(out, "reprotect: this machine rejoins as the backup of the machine the guest went to (a full copy, "
                     "as any joining backup)");
        migrated_ = false;
        rejoin_as_backup();
        return;
    }
    if (phase_ == Phase::handing_over || phase_ == Phase::switching) {
        println(out, "reprotect: refused: the guest is being handed over; ask again once this machine runs nothing");
    } else if (backup_ && !primary_) {
        println(out, "reprotect: this machine is a backup already ({})", protection_name());
    } else {
        println(out, "reprotect: nothing to do: this machine runs the guest and takes a backup by itself when one "
                     "joins (boot one with role=backup)");
    }
}

// The primary's engine goes; the backup's side starts on the same memory (the guest's RAM becomes
// the image the new primary's copy arrives in) and joins the new primary as any new backup does.
void PairSession::rejoin_as_backup() {
    messages_.target = nullptr;
    machine_.ram().set_write_observer(nullptr);
    machine_.set_events(nullptr);
    if (GuestNetwork* network = machine_.guest_network()) network->set_control_handler(nullptr);
    primary_.reset();
    engine_.reset();
    responder_.reset();
    build_engine_parts();
    tracker_.emplace(method_, machine_.dirty_control(), machine_.pml_log(), current_);
    current_.clear();
    sending_.clear();
    switchover_asked_ = false;
    handover_asked_ = false;
    took_over_ = false;
    if (auto s = start_backup(); !s) {
        report_problem(out_, "the backup after the switchover", s.error());
        phase_ = Phase::failed;
    }
}

}  // namespace tandem::sessions
