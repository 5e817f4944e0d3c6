// Where a lockstep pair (issue 13) meets the pair's session: the adapters between the portable
// lockstep paths (replication/lockstep/) and the session's link, replicator and guest network.
// The session (pair_lockstep.cpp) owns the paths; this only routes.
#pragma once

#include <cstdint>
#include <span>

#include "replication/engine/primary_replicator.hpp"
#include "replication/lockstep/lockstep_backup.hpp"
#include "replication/lockstep/lockstep_primary.hpp"
#include "replication/sessions/guest_network.hpp"

namespace tandem::sessions {

class PairSession;

class LockstepGlue final : public engine::EpochDriver,
                           public lockstep::ForwardLink,
                           public lockstep::GuestReceive,
                           public GuestInputTap,
                           public link::MessageSink {
public:
    explicit LockstepGlue(PairSession& session) : session_(session) {}

    // EpochDriver: the primary replicator's protected epochs.
    bool boundary_due() override;
    void captured(std::uint64_t epoch, bool protecting) override;
    void acknowledged(std::uint64_t epoch) override;
    void backup_lost() override;
    void on_forward(std::span<const std::uint8_t> payload) override;
    // ForwardLink: a lockstep message as a `forward` link message.
    bool send_forward(std::span<const std::uint8_t> message) override;
    // GuestReceive: into the guest's virtio-net card.
    bool deliver(std::span<const std::uint8_t> frame) override;
    // GuestInputTap: a client frame for the primary's guest.
    void guest_input(std::span<const std::uint8_t> frame) override;
    // MessageSink: the backup replicator's forward messages.
    void on_message(const link::Message& message) override;

private:
    PairSession& session_;
    std::uint8_t frame_[lockstep::kLockstepMaxFrame]{};
};

}  // namespace tandem::sessions
