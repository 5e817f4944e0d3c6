// The guest machine's device models whose state travels with checkpoints (DESIGN §6), and the
// one strict restore every mode uses: a saved set must name exactly the models this machine
// has — one missing, one unknown, one twice or a different count is refused with the reason
// before any model changes. (A model left out would run on from a state the backup does not
// have; QEMU's COLO broke on device state that could not be loaded.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/devices/device_state.hpp"

namespace tandem {

// One model's saved state as a checkpoint carries it.
struct SavedDeviceState {
    std::uint16_t id = 0;
    std::uint16_t version = 0;
    std::span<const std::uint8_t> bytes;
};

class DeviceSet {
public:
    // The UART, virtio-net and the PC platform's five models, with room to spare; as many as an
    // epoch carries (checkpoint::BackupImage::kMaxDevices).
    static constexpr std::size_t kMaxDevices = 8;

    // One too many, or a second model with the same id, is an error: a model left out would
    // silently not be checkpointed.
    Status add(StatefulDevice& device);
    std::size_t size() const { return count_; }
    StatefulDevice& at(std::size_t index) { return *devices_[index]; }
    std::span<StatefulDevice* const> all() const { return {devices_, count_}; }
    StatefulDevice* find(std::uint16_t id) const;

    // Whether the saved set names exactly this machine's models (changes nothing).
    Status check(std::span<const SavedDeviceState> saved) const;
    // check(), then restores each model. A model that refuses its state reports why (its errors
    // name it); models restored before it keep theirs.
    Status restore(std::span<const SavedDeviceState> saved);

private:
    StatefulDevice* devices_[kMaxDevices]{};
    std::size_t count_ = 0;
};

}  // namespace tandem
