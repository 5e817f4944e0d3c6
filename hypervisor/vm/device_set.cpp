#include "hypervisor/vm/device_set.hpp"

namespace tandem {

Status DeviceSet::add(StatefulDevice& device) {
    if (find(device.state_id()) != nullptr) {
        return Error::of("devices: two models with the same checkpoint id (a tandem bug)", device.state_id());
    }
    if (count_ == kMaxDevices) return Error::of("devices: too many models to checkpoint (a tandem bug)", device.state_id());
    devices_[count_++] = &device;
    return success();
}

StatefulDevice* DeviceSet::find(std::uint16_t id) const {
    for (std::size_t i = 0; i < count_; ++i) {
        if (devices_[i]->state_id() == id) return devices_[i];
    }
    return nullptr;
}

Status DeviceSet::check(std::span<const SavedDeviceState> saved) const {
    if (saved.size() != count_) {
        return Error::of("devices: the saved state is of a different number of models than this machine has; saved",
                         saved.size());
    }
    for (std::size_t i = 0; i < saved.size(); ++i) {
        if (find(saved[i].id) == nullptr) {
            return Error::of("devices: the saved state holds a model this machine does not have; device id", saved[i].id);
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (saved[j].id == saved[i].id) return Error::of("devices: the saved state holds one model twice; device id", saved[i].id);
        }
    }
    // Same count, every id known and none twice: every model of this machine has its state.
    return success();
}

Status DeviceSet::restore(std::span<const SavedDeviceState> saved) {
    if (auto st = check(saved); !st) return st;
    for (const SavedDeviceState& s : saved) {
        if (auto st = find(s.id)->restore_state(s.version, s.bytes); !st) return st;
    }
    return success();
}

}  // namespace tandem
