// The I/O bitmaps and the MSR bitmap (Intel SDM Vol. 3C §26.6.4, §26.6.9): deny by default (a set
// bit makes the access exit to tandem), allow by list.
#pragma once

#include <cstdint>
#include <span>

namespace tandem::x86 {

struct IoBitmaps {
    std::uint8_t a[4096];  // ports 0x0000-0x7fff
    std::uint8_t b[4096];  // ports 0x8000-0xffff
};
static_assert(sizeof(IoBitmaps) == 8192);

struct MsrBitmap {
    std::uint8_t read_low[1024];    // MSRs 0x00000000-0x00001fff
    std::uint8_t read_high[1024];   // MSRs 0xc0000000-0xc0001fff
    std::uint8_t write_low[1024];
    std::uint8_t write_high[1024];
};
static_assert(sizeof(MsrBitmap) == 4096);

void build_io_bitmaps(IoBitmaps& bitmaps, std::span<const std::uint16_t> passthrough);
bool io_exits(const IoBitmaps& bitmaps, std::uint16_t port);

// MSRs outside the two ranges always exit; listing one here is a programming error and it
// stays intercepted.
void build_msr_bitmap(MsrBitmap& bitmap, std::span<const std::uint32_t> passthrough);
bool msr_read_exits(const MsrBitmap& bitmap, std::uint32_t msr);
bool msr_write_exits(const MsrBitmap& bitmap, std::uint32_t msr);

// What tandem lets through (access_bitmaps.cpp says why each is safe).
std::span<const std::uint16_t> passthrough_ports();
std::span<const std::uint32_t> passthrough_msrs(bool rdtscp_enabled);
// The speculation-control MSRs the guest writes straight to the hardware (speculation.hpp):
// IA32_SPEC_CTRL, IA32_PRED_CMD, IA32_FLUSH_CMD, those the processor has; into `out`, how many.
std::size_t speculation_passthrough_msrs(bool spec_ctrl, bool pred_cmd, bool flush_cmd, std::uint32_t (&out)[3]);

}  // namespace tandem::x86
