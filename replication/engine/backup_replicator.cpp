#include "replication/engine/backup_replicator.hpp"

#include "replication/engine/pair_notice.hpp"

namespace tandem::engine {

const char* backup_state_name(BackupReplicator::State state) {
    switch (state) {
    case BackupReplicator::State::connecting: return "waiting for a primary";
    case BackupReplicator::State::following: return "following the primary";
    case BackupReplicator::State::probing: return "the primary is silent: probing it on the client network";
    case BackupReplicator::State::takeover: return "taking over";
    }
    return "?";
}

Status BackupReplicator::listen(const link::TransportConfig& config, const link::LinkSecret& secret, Random64 random,
                                const BackupOptions& options) {
    if (random == nullptr) return Error::of("pair: no random source");
    if (options.probes == 0 || options.probe_interval_ns == 0) return Error::of("pair: the probe window must not be empty");
    config_ = config;
    config_.role = Role::backup;
    secret_ = secret;
    random_ = random;
    options_ = options;
    state_ = State::connecting;
    config_.session_id = random_();
    image_.set_keepalive(this);
    return transport_.start(config_, secret_);
}

// Everything the backup holds of a primary's stream: the image, the decoder's place in it and
// what was said about it. Dropped together whenever that stream ends.
void BackupReplicator::forget_stream() {
    image_.reset();
    decoder_.reset();
    has_notice_ = false;
    announced_protected_ = false;
    acked_any_ = false;
    stream_failed_ = false;
    unconfirmed_ = false;
    handover_requested_ = false;
}

void BackupReplicator::rejoin(const char* why) {
    println(out_, "pair: {}: starting over as a new backup (the image is discarded)", why);
    forget_stream();
    refusal_reported_ = false;
    observations_.reset();
    state_ = State::connecting;
    config_.session_id = random_();
    if (auto s = transport_.start(config_, secret_); !s) {
        print(out_, "pair: the link could not restart: ");
        println(out_, "{}", s.error());
    }
}

// The primary's link session changed (a new session proved the key): it restarted its link,
// and its stream starts over with a full copy; what this image holds is of the old stream.
void BackupReplicator::follow_new_primary_session() {
    restarts_seen_ = transport_.stats().peer_restarts;
    forget_stream();
    ++stats_.primary_restarts;
    println(out_, "pair: the primary started a new link session (session {}): following it from a new full copy",
            hex(transport_.peer_session(), 16));
}

void BackupReplicator::begin_probing(const char* why) {
    state_ = State::probing;
    probes_sent_ = 0;
    answered_ = false;
    probing_since_ns_ = clock_.now_ns();
    next_probe_ns_ = probing_since_ns_;
    std::uint64_t a = random_(), b = random_();
    challenge_ = link::Challenge::from_words(a, b);
    // While the primary answers on the client network but not on the link, this repeats every
    // silence: said the first time (and with every 64th answer, below), not each time.
    if (!unconfirmed_) println(out_, "pair: {}; asking for it on the client network before taking over", why);
}

bool BackupReplicator::poll() {
    transport_.poll();
    std::uint64_t now = clock_.now_ns();
    std::uint64_t looked_at = listened_at_ns_ != 0 && listened_at_ns_ <= now ? listened_at_ns_ : now;
    listened_at_ns_ = 0;
    switch (state_) {
    case State::connecting:
        observations_.poll(transport_, out_, "pair");
        if (transport_.established()) {
            state_ = State::following;
            restarts_seen_ = transport_.stats().peer_restarts;
            next_progress_ns_ = now + options_.progress_ns;
            // A fresh primary session starts from a zero image (its reference is zero).
            image_.reset();
            decoder_.reset();
            println(out_, "pair: following the primary (session {}): receiving the full copy of the guest ({})",
                    hex(transport_.peer_session(), 16), Bytes{transport_.peer_params().guest_memory});
        } else if (transport_.refusal() != nullptr) {
            if (!refusal_reported_) {
                refusal_reported_ = true;
                refused_at_ = now;
                print(out_, "pair: the primary refused this backup: ");
                println(out_, "{}", transport_.refusal_error());
            } else if (now - refused_at_ >= options_.retry_after_refusal_ns) {
                refusal_reported_ = false;
                config_.session_id = random_();
                (void)transport_.start(config_, secret_);
            }
        }
        return false;
    case State::following:
        if (handover_requested_) return take_handover();
        if (transport_.stats().peer_restarts != restarts_seen_) follow_new_primary_session();
        if (unconfirmed_ && transport_.established() && transport_.last_heard_ns() > unconfirmed_since_ns_) {
            unconfirmed_ = false;  // the primary's same session goes on: it kept this backup
            println(out_, "pair: the primary's traffic is back on the same session: this image is current again");
        }
        send_ack();
        note_progress();
        if (stream_failed_) {
            rejoin("the checkpoint stream broke");
        } else if (!transport_.established()) {
            begin_probing("the link to the primary is down");
        } else if (transport_.peer_silent_at(looked_at)) {
            begin_probing("the primary is silent on the link");
        }
        return false;
    case State::probing:
        // Authenticated traffic of the primary again (its current session, or a new one it
        // proved): the link had stalled, the primary lives. Follow it again.
        if (transport_.established() && !transport_.peer_silent()) {
            state_ = State::following;
            println(out_, "pair: the primary is heard on the link again; following it");
            if (transport_.stats().peer_restarts != restarts_seen_) follow_new_primary_session();
            return false;
        }
        if (answered_) {
            // The primary lives: the link stalled or failed, not the primary. No takeover, and
            // nothing thrown away: when its traffic comes back this backup goes on where it was
            // (a join included); if the primary gave up on this backup meanwhile, its new session
            // says so and a new copy begins (follow_new_primary_session).
            ++stats_.answered_probes;
            state_ = State::following;
            unconfirmed_ = true;
            unconfirmed_since_ns_ = now;
            if (stats_.answered_probes == 1 || stats_.answered_probes % 64 == 0) {
                println(out_, "pair: the primary answers on the client network, so the link failed, not the primary: no "
                              "takeover (split-brain guard); waiting for it on the link, keeping this image ({} so far)",
                        stats_.answered_probes);
            }
            return false;
        }
        if (probes_sent_ < options_.probes) {
            if (now >= next_probe_ns_) {
                prober_.send_probe(challenge_);
                ++probes_sent_;
                ++stats_.probes_sent;
                next_probe_ns_ = now + options_.probe_interval_ns;
            }
            return false;
        }
        if (now < probing_since_ns_ + options_.probes * options_.probe_interval_ns) return false;
        if (!is_protected()) {
            rejoin(image_.has_committed() ? "the primary is gone, but its protection had not begun: this backup cannot "
                                            "take over"
                                          : "the primary is gone before the first copy was complete: this backup cannot "
                                            "take over");
            return false;
        }
        state_ = State::takeover;
        takeover_times_ = {transport_.last_heard_ns(), probing_since_ns_, now};
        image_.abandon_epoch();
        println(out_, "pair: no answer from the primary for {} ms on the link and {} ms on the client network: taking "
                      "over from epoch {}",
                config_.timing.silence_timeout_ns / 1'000'000, (now - probing_since_ns_) / 1'000'000,
                image_.committed_epoch());
        return true;
    case State::takeover:
        return false;
    }
    return false;
}

// The primary stopped its guest and said so (authenticated, in order after its last pages): the
// committed epoch becomes the guest now. An epoch half received is dropped, as at any takeover.
// A backup that could not take over says so and follows on; the primary, silent from now on, is
// then judged as at any silence.
bool BackupReplicator::take_handover() {
    handover_requested_ = false;
    if (!is_protected()) {
        println(out_, "pair: cannot take the guest over: this backup holds no protected epoch yet");
        return false;
    }
    transport_.ack_now();  // the primary waits for this before it goes silent
    state_ = State::takeover;
    handed_over_ = true;
    image_.abandon_epoch();
    println(out_, "pair: taking over from epoch {}: the primary handed the guest over", image_.committed_epoch());
    return true;
}

void BackupReplicator::on_probe_reply(const link::ProbeFrame& reply) {
    if (state_ != State::probing || reply.kind != link::ProbeKind::reply) return;
    if (!(reply.challenge == challenge_)) return;  // an old or foreign answer
    ++stats_.probe_replies;
    answered_ = true;
}

void BackupReplicator::note_progress() {
    std::uint64_t now = clock_.now_ns();
    if (now < next_progress_ns_) return;
    next_progress_ns_ = now + options_.progress_ns;
    if (!image_.has_committed() && image_.in_epoch()) {
        std::uint64_t received = image_.staged_pages(), total = image_.image().size() / checkpoint::kPageSize;
        copy_rate_.sample(now, received, 1'000'000'000);
        print(out_, "pair: full copy from the primary: {} of {} guest pages received", received, total);
        copy_rate_.print(out_, total > received ? total - received : 0, "pages");
        println(out_, "");
    }
}

void BackupReplicator::send_ack() {
    if (!image_.has_committed()) return;
    std::uint64_t epoch = image_.committed_epoch();
    if (acked_any_ && epoch == acked_) return;
    if (!transport_.can_send()) return;  // cumulative: the newest goes when there is room
    if (!transport_.send(link::FrameType::epoch_ack, epoch, {})) return;
    if (!acked_any_) println(out_, "pair: the full copy is committed (epoch {})", epoch);
    acked_any_ = true;
    acked_ = epoch;
    ++stats_.acks_sent;
    if (!announced_protected_ && is_protected()) {
        announced_protected_ = true;
        println(out_, "pair: PROTECTED: epoch {} committed; this machine takes over if the primary fails", epoch);
    }
}

void BackupReplicator::on_message(const link::Message& m) {
    if (state_ != State::following && state_ != State::probing) return;
    switch (m.type) {
    case link::FrameType::pages: {
        if (stream_failed_) return;
        stats_.stream_bytes += m.payload.size();
        std::uint64_t before = image_.has_committed() ? image_.committed_epoch() + 1 : 0;
        if (auto s = decoder_.feed(m.payload); !s) {
            stream_failed_ = true;
            print(out_, "pair: the checkpoint stream was refused: ");
            println(out_, "{}", s.error());
            return;
        }
        if (image_.has_committed() && image_.committed_epoch() + 1 != before) {
            ++stats_.epochs_committed;
            send_ack();
        }
        return;
    }
    case link::FrameType::data: {
        auto notice = decode_pair_notice(m.payload);
        if (!notice) {
            ++stats_.unexpected_messages;
            print(out_, "pair: a malformed notice from the primary: ");
            println(out_, "{}", notice.error());
            return;
        }
        if (notice->kind == PairNoticeKind::hand_over) {
            handover_requested_ = true;
            println(out_, "pair: the primary hands the guest over (failover or switchover on its console; it acknowledged epoch {})",
                    notice->epoch);
            return;
        }
        has_notice_ = true;
        protected_from_ = notice->epoch;
        println(out_, "pair: the primary protects from epoch {} on", protected_from_);
        send_ack();
        return;
    }
    case link::FrameType::forward:
        if (forward_ != nullptr) {
            forward_->on_message(m);
            return;
        }
        ++stats_.unexpected_messages;
        return;
    default:
        ++stats_.unexpected_messages;
        return;
    }
}

void BackupReplicator::status(Writer& out) const {
    println(out, "pair: backup, {}", backup_state_name(state_));
    if (image_.has_committed()) {
        println(out, "pair: committed epoch {}{}; {} epochs, {} stream bytes, {} acknowledgements", image_.committed_epoch(),
                is_protected() ? " (protected: can take over)" : " (not protected yet)", stats_.epochs_committed,
                Bytes{stats_.stream_bytes}, stats_.acks_sent);
    } else {
        println(out, "pair: nothing committed yet");
    }
}

}  // namespace tandem::engine
