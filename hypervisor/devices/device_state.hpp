// A device model whose state travels in checkpoints (DESIGN §6: every model serialises itself and
// can be restored any number of times; QEMU's COLO broke on models that could not be loaded
// twice). The id is stable across versions; the version changes with the encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/byte_stream.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem {

class StatefulDevice {
public:
    virtual std::uint16_t state_id() const = 0;
    virtual std::uint16_t state_version() const = 0;
    virtual const char* state_name() const = 0;
    virtual void save_state(ByteWriter& out) const = 0;
    // Replaces the whole state; on failure the device is left as it was.
    virtual Status restore_state(std::uint16_t version, std::span<const std::uint8_t> in) = 0;

protected:
    ~StatefulDevice() = default;
};

// The most bytes a model's saved state may take: what a checkpoint's device record carries
// (replication/checkpoint/record_format.hpp).
inline constexpr std::size_t kMaxDeviceStateBytes = 1024;

// Stable device ids.
inline constexpr std::uint16_t kDeviceIdUart0 = 1;
inline constexpr std::uint16_t kDeviceIdLocalApic0 = 3;  // 2 is virtio-net0 (virtio/virtio_net.hpp)
inline constexpr std::uint16_t kDeviceIdIoApic0 = 4;
inline constexpr std::uint16_t kDeviceIdPic = 5;
inline constexpr std::uint16_t kDeviceIdPit = 6;
inline constexpr std::uint16_t kDeviceIdRtc = 7;
inline constexpr std::uint16_t kDeviceIdAcpiPmTimer = 8;

}  // namespace tandem
