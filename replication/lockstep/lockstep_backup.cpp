#include "replication/lockstep/lockstep_backup.hpp"

namespace tandem::lockstep {

LockstepBackup::LockstepBackup(std::span<std::uint8_t> held_storage, GuestReceive& guest, ForwardLink& link)
    : held_storage_(held_storage), guest_(guest), link_(link) {}

bool LockstepBackup::transmit(std::span<const std::uint8_t> frame) {
    if (frame.size() < kLockstepMinFrame || frame.size() > kFrameRoom) return true;  // virtio-net sends none such
    for (std::size_t i = 0; i < frame.size(); ++i) frame_[i] = frame[i];
    std::span<std::uint8_t> copy{frame_, frame.size()};
    (void)rewriter_.outgoing(copy);  // unknown: the comparator will see the difference
    if (client_ != nullptr) return client_->transmit(copy);
    LockstepMessage message{LockstepMessageKind::guest_output, generation_, output_sequence_, 0, copy};
    auto size = encode_lockstep_message(message, message_);
    if (!size.ok()) return true;
    if (!link_.send_forward({message_, *size})) {
        ++stats_.outputs_waited;
        return false;  // the guest's transmit queue waits for the link
    }
    ++output_sequence_;
    ++stats_.outputs_sent;
    return true;
}

void LockstepBackup::on_message(std::span<const std::uint8_t> payload) {
    auto message = decode_lockstep_message(payload);
    if (!message.ok()) {
        ++stats_.undecodable;
        return;
    }
    switch (message->kind) {
    case LockstepMessageKind::client_input:
        on_input(*message);
        return;
    case LockstepMessageKind::generation_start:
        if (!has_pending_ || message->generation > pending_) pending_ = message->generation;
        has_pending_ = true;
        return;
    case LockstepMessageKind::guest_output:
        break;
    }
    ++stats_.unexpected;
}

void LockstepBackup::on_input(const LockstepMessage& message) {
    switch (input_order_.accept(message.generation, message.sequence)) {
    case LockstepSequence::Verdict::stale:
        ++stats_.inputs_stale;  // a generation a later checkpoint already holds
        return;
    case LockstepSequence::Verdict::out_of_order:
        ++stats_.inputs_out_of_order;  // lost on the way: the guests will differ, the comparator sees it
        return;
    case LockstepSequence::Verdict::in_order:
        break;
    }
    if (running_ && message.generation == generation_) {
        deliver(message.frame);
    } else if (!running_ || message.generation > generation_) {
        hold(message);
    } else {
        ++stats_.inputs_stale;
    }
}

void LockstepBackup::hold(const LockstepMessage& message) {
    if (held_count_ == kHeldInputs || held_storage_.size() < kStorageBytes) {  // the latter: a caller's mistake
        ++stats_.inputs_no_room;
        return;
    }
    std::size_t index = (held_head_ + held_count_) % kHeldInputs;
    std::uint8_t* at = held_storage_.data() + index * kFrameRoom;
    for (std::size_t i = 0; i < message.frame.size(); ++i) at[i] = message.frame[i];
    held_[index] = {message.generation, static_cast<std::uint16_t>(message.frame.size())};
    ++held_count_;
    ++stats_.inputs_held;
}

void LockstepBackup::generation_started(std::uint64_t generation) {
    running_ = true;
    generation_ = generation;
    output_sequence_ = 0;
    rewriter_.reset();  // the guests are one machine again
    ++stats_.generations;
    while (held_count_ != 0) {
        const Held& held = held_[held_head_];
        std::span<const std::uint8_t> frame{held_storage_.data() + held_head_ * kFrameRoom, held.length};
        if (held.generation > generation) break;  // a later checkpoint's: it waits for that one
        if (held.generation == generation) {
            deliver(frame);
        } else {
            ++stats_.inputs_stale;  // already in the checkpoint this guest now runs from
        }
        held_head_ = (held_head_ + 1) % kHeldInputs;
        --held_count_;
    }
}

void LockstepBackup::deliver(std::span<const std::uint8_t> frame) {
    if (frame.size() > kFrameRoom) return;
    for (std::size_t i = 0; i < frame.size(); ++i) frame_[i] = frame[i];
    std::span<std::uint8_t> copy{frame_, frame.size()};
    (void)rewriter_.incoming(copy);
    if (guest_.deliver(copy)) ++stats_.inputs_delivered;
}

}  // namespace tandem::lockstep
