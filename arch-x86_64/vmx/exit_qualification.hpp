// Decoders for the exit qualification and related exit-information fields (Intel SDM Vol. 3C
// §28.2.1, Tables 28-3 to 28-7, and §28.2.2 for interruption information).
#pragma once

#include <cstdint>

namespace tandem::x86 {

// Control-register accesses (Table 28-3).
struct CrAccess {
    enum class Type : std::uint8_t { mov_to_cr = 0, mov_from_cr = 1, clts = 2, lmsw = 3 };
    std::uint64_t raw;
    constexpr unsigned cr() const { return static_cast<unsigned>(raw & 0xf); }
    constexpr Type type() const { return static_cast<Type>((raw >> 4) & 3); }
    constexpr unsigned gpr() const { return static_cast<unsigned>((raw >> 8) & 0xf); }  // 0 = RAX ... 15 = R15
    constexpr std::uint16_t lmsw_source() const { return static_cast<std::uint16_t>(raw >> 16); }
};

// I/O instructions (Table 28-5).
struct IoAccess {
    std::uint64_t raw;
    constexpr unsigned size() const { return static_cast<unsigned>(raw & 7) + 1; }  // 1, 2 or 4 bytes
    constexpr bool in() const { return (raw >> 3) & 1; }
    constexpr bool string() const { return (raw >> 4) & 1; }
    constexpr bool rep() const { return (raw >> 5) & 1; }
    constexpr std::uint16_t port() const { return static_cast<std::uint16_t>(raw >> 16); }
};

// EPT violations (Table 28-7).
struct EptViolation {
    std::uint64_t raw;
    constexpr bool read() const { return raw & 1; }
    constexpr bool write() const { return (raw >> 1) & 1; }
    constexpr bool fetch() const { return (raw >> 2) & 1; }
    constexpr bool was_readable() const { return (raw >> 3) & 1; }
    constexpr bool was_writable() const { return (raw >> 4) & 1; }
    constexpr bool was_executable() const { return (raw >> 5) & 1; }
    constexpr bool linear_address_valid() const { return (raw >> 7) & 1; }
    // With a valid linear address: set when the access was to the final translated address,
    // clear when it was to a guest paging structure during the walk.
    constexpr bool final_translation() const { return (raw >> 8) & 1; }
    constexpr bool nmi_unblocking() const { return (raw >> 12) & 1; }
};

// VM-exit / IDT-vectoring / VM-entry interruption information (§28.2.2, §26.8.3).
struct InterruptionInfo {
    enum class Type : std::uint8_t {
        external_interrupt = 0,
        nmi = 2,
        hardware_exception = 3,
        software_interrupt = 4,
        privileged_software_exception = 5,
        software_exception = 6,
        other_event = 7,
    };
    std::uint32_t raw;
    constexpr std::uint8_t vector() const { return static_cast<std::uint8_t>(raw & 0xff); }
    constexpr Type type() const { return static_cast<Type>((raw >> 8) & 7); }
    constexpr bool has_error_code() const { return (raw >> 11) & 1; }
    constexpr bool valid() const { return (raw >> 31) & 1; }

    static constexpr InterruptionInfo hardware_exception(std::uint8_t vector, bool error_code) {
        return {static_cast<std::uint32_t>(vector) | (3u << 8) | (error_code ? 1u << 11 : 0u) | (1u << 31)};
    }
    static constexpr InterruptionInfo external(std::uint8_t vector) {
        return {static_cast<std::uint32_t>(vector) | (1u << 31)};
    }
};
static_assert(InterruptionInfo::hardware_exception(13, true).raw == 0x80000b0d);

}  // namespace tandem::x86
