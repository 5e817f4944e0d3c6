// The state of the guest's virtual CPU as it travels in a checkpoint: a self-describing list of
// (key, value) pairs plus the XSAVE image of the FPU/SSE/AVX registers. Keys below 0x10000 are
// VMCS field encodings (Intel SDM Vol. 3D Appendix B): the guest-state area and the control
// fields that are really guest state (read shadows, pending event injection, TSC). Keys from
// 0x10000 are registers outside the VMCS (cpu_state_keys below). The capture and restore on
// the machine are arch-x86_64/vmx/cpu_state_capture.*; this file only knows the encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "hypervisor/util/result.hpp"
#include "hypervisor/util/byte_stream.hpp"
#include "replication/checkpoint/record_format.hpp"

namespace tandem::checkpoint {

namespace cpu_state_keys {
inline constexpr std::uint32_t gpr_base = 0x10000;  // + register number 0..15 (rsp slot unused)
inline constexpr std::uint32_t cr2 = 0x10100;
inline constexpr std::uint32_t xcr0 = 0x10101;
inline constexpr std::uint32_t guest_tsc = 0x10102;  // the guest's TSC at capture (host TSC + offset)
inline constexpr std::uint32_t dr_base = 0x10200;    // + 0..3 and 6
inline constexpr std::uint32_t msr_base = 0x10300;   // + index in the MSR list of the capture code
inline constexpr std::uint32_t limit = 0x10400;
}  // namespace cpu_state_keys

class CpuState {
public:
    static constexpr std::size_t kMaxFields = 128;
    // The XSAVE image's bound, on the wire and in memory. The standard-format area has a size
    // the processor reports (CPUID leaf 0DH; arch-x86_64/vmx/xsave_layout.hpp sizes it and boot
    // refuses a processor whose area for the guest exceeds this bound). Large enough for every
    // XCR0 state component processors offer, not only those tandem saves today: AMX TILEDATA
    // ends at byte 11008 (Sapphire Rapids: CPUID.(0DH,18) = 8192 bytes at offset 2816), the
    // furthest any component reaches; 12 KiB leaves room for a component after it.
    static constexpr std::size_t kMaxXsave = 12 * 1024;
    static constexpr std::uint16_t kVersion = 1;
    // The largest encoding (encode() below) fits a CPU_STATE record.
    static constexpr std::size_t kMaxEncoded = 2 + 2 + kMaxFields * (4 + 8) + 4 + kMaxXsave;

    // Adds or replaces a value. Fails when the table is full.
    Status set(std::uint32_t key, std::uint64_t value);
    std::optional<std::uint64_t> get(std::uint32_t key) const;
    std::size_t field_count() const { return count_; }
    std::uint32_t key_at(std::size_t i) const { return keys_[i]; }
    std::uint64_t value_at(std::size_t i) const { return values_[i]; }

    Status set_xsave(std::span<const std::uint8_t> image);
    std::span<const std::uint8_t> xsave() const { return {xsave_, xsave_size_}; }
    std::span<std::uint8_t> xsave_buffer() { return {xsave_, kMaxXsave}; }
    void set_xsave_size(std::uint32_t size) { xsave_size_ = size <= kMaxXsave ? size : 0; }

    void clear() {
        count_ = 0;
        xsave_size_ = 0;
    }

    // Encoding: u16 version, u16 count, count x (u32 key, u64 value), u32 xsave size, bytes.
    void encode(ByteWriter& out) const;
    // Decodes into *this (cleared first); rejects unknown versions, keys outside the known
    // ranges, duplicates, oversized XSAVE images and trailing bytes.
    Status decode(std::span<const std::uint8_t> in);
    // FNV-1a over the encoding: equal states have equal digests.
    std::uint64_t digest() const;

private:
    std::uint32_t keys_[kMaxFields]{};
    std::uint64_t values_[kMaxFields]{};
    std::size_t count_ = 0;
    alignas(64) std::uint8_t xsave_[kMaxXsave]{};
    std::uint32_t xsave_size_ = 0;
};

static_assert(CpuState::kMaxEncoded <= kCpuStateMaxPayload);

}  // namespace tandem::checkpoint
