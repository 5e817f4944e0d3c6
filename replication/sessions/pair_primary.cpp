// The pair's primary side: the engine and the primary replicator over this machine's guest,
// built at start on a primary and at the takeover on a backup.
#include "replication/sessions/pair_session.hpp"

namespace tandem::sessions {
namespace {
constexpr std::uint64_t kPage = checkpoint::kPageSize;
}  // namespace

Status PairSession::become_primary(bool took_over) {
    const Config& config = machine_.config();
    engine::CaptureMode mode = config.capture == CaptureChoice::cow ? engine::CaptureMode::cow : engine::CaptureMode::copy;
    GuestMemory& ram = machine_.ram();
    engine_.emplace(engine::EngineMemory{ram, reference_, slots_, slot_of_page_, sending_}, *tracker_,
                    machine_.dirty_control(), *this, *encoder_, *this, mode, true);
    primary_.emplace(*engine_, *queue_, *output_, *transport_, *this, out_);
    ram.set_write_observer(&*engine_);
    machine_.set_events(this);
    machine_.set_tick_ms(1);  // the link and the network are polled on the ticks
    messages_.target = &*primary_;
    std::uint64_t khz = machine_.tsc_khz();
    const std::uint32_t epoch_ms = epoch_ms_ != 0 ? epoch_ms_ : config.epoch_ms;
    engine::PrimaryOptions po;
    po.epoch_ticks = khz * epoch_ms;
    po.slice_ticks = khz * kSliceSharePercent / 100;
    po.progress_ticks = khz * 2000;
    po.ticks_per_second = khz * 1000;
    po.epoch_report = config.epoch_report;
    po.epoch_ms = epoch_ms;
    po.exit_budget_ticks = khz * kTimerExitBudgetMs;
    if (auto s = primary_->listen(transport_config(), secret_, machine_.random(), po); !s) {
        report_problem(out_, "the replication link", s.error());
        return s;
    }
    nic::NicInfo info = machine_.link_nic()->info();
    println(out_, "pair: {} over {} ({}), {}; epochs of {} ms, dirty tracking by {}, failover after {} ms of silence",
            took_over ? "now the primary" : "primary", info.driver, ColonHex{info.mac.bytes, 6},
            secret_.insecure ? "INSECURE link (insecure_link=1)" : "link authenticated and encrypted", epoch_ms,
            dirty_tracking_name(method_), config.failover_ms);
    link::warn_if_insecure(out_, secret_);
    if (standalone_source() && !took_over) {
        println(out_, "standalone: the guest runs here alone, with no backup; 'migrate' moves it to a machine booted "
                      "mode=migrate on this link");
    } else {
        println(out_, "pair: the guest runs UNPROTECTED until a backup has joined and holds a copy");
    }
    if (GuestNetwork* network = machine_.guest_network()) {
        responder_.emplace(*machine_.client_nic(), secret_, out_);
        network->set_control_handler(&*responder_);
    }
    if (lockstep()) attach_lockstep_primary();
    phase_ = Phase::running;
    return success();
}

void PairSession::on_timer() {
    if (phase_ == Phase::following) return on_backup_timer();  // a lockstep backup's guest
    // No exit may hold the guest long (ARCHITECTURE.md, "What bounds an exit"): the link's
    // messages and the copy's encoding stop at the exit's budget and go on at the next tick.
    std::uint64_t began = now();
    transport_->bound_sending_until(machine_.clock().now_ns() + kTimerExitBudgetMs * 1'000'000);
    feed_->receive();
    if (lockstep_primary_) sync_due_ = lockstep_primary_->poll();
    bool by_migrate_only = standalone_source() && !took_over_;
    primary_->set_joins_open(!by_migrate_only || migrate_armed_);
    Status ticked = primary_->tick(began);
    transport_->bound_sending_until(0);
    if (auto s = ticked; !s) {
        print(out_, "pair: ");
        println(out_, "{}", s.error());
        machine_.stop_guest("the pair failed");
    }
    if (primary_->joiner_waiting() && !joiner_noted_) {
        println(out_, "standalone: a machine is on the link; it gets the guest only when 'migrate' is asked here (this "
                      "machine takes no backup)");
    }
    joiner_noted_ = primary_->joiner_waiting();
    poll_migration();
    pause_if_throttled();
    sample_throughput();
    report_lockstep_progress();
}

bool PairSession::on_ram_write_fault(std::uint64_t gpa) {
    if (phase_ == Phase::following) return on_backup_write_fault(gpa);
    if (!primary_->capturing()) {
        machine_.dirty_control().set_write_protect(gpa / kPage, false);  // left from an abandoned epoch
        return true;
    }
    return engine_->on_write_fault(gpa);
}

void PairSession::on_pml_full() {
    if (phase_ == Phase::following || primary_->capturing()) {
        tracker_->on_pml_full();
    } else if (dirty::PmlLog* log = machine_.pml_log()) {
        log->reset_index();
    }
}

}  // namespace tandem::sessions
