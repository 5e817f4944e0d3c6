#include "arch-x86_64/vmx/access_bitmaps.hpp"

namespace tandem::x86 {
namespace {

void set_bit(std::uint8_t* bits, unsigned n, bool value) {
    auto mask = static_cast<std::uint8_t>(1u << (n % 8));
    bits[n / 8] = static_cast<std::uint8_t>(value ? bits[n / 8] | mask : bits[n / 8] & ~mask);
}
bool get_bit(const std::uint8_t* bits, unsigned n) { return (bits[n / 8] >> (n % 8)) & 1; }

// Which quarter of the bitmap and which bit an MSR uses; false if the MSR is in neither range.
bool msr_slot(std::uint32_t msr, bool& high, unsigned& index) {
    if (msr <= 0x1fff) {
        high = false;
        index = msr;
        return true;
    }
    if (msr >= 0xc0000000 && msr <= 0xc0001fff) {
        high = true;
        index = msr - 0xc0000000;
        return true;
    }
    return false;
}

// Port 0x80 is the POST-code port: guests (Linux among them) write it only as an I/O delay; no
// device of consequence sits there, so the write may reach the hardware.
constexpr std::uint16_t kPorts[] = {0x80};

// Registers the VMCS switches on every entry and exit (FS/GS base, SYSENTER), or that tandem
// itself never uses, so they hold the guest's values in hardware while it runs (KERNEL_GS_BASE
// and the SYSCALL MSRs; tandem uses neither SWAPGS nor SYSCALL). Checkpoint capture reads them
// from the hardware.
constexpr std::uint32_t kMsrs[] = {
    0x174,       // IA32_SYSENTER_CS
    0x175,       // IA32_SYSENTER_ESP
    0x176,       // IA32_SYSENTER_EIP
    0xc0000081,  // IA32_STAR
    0xc0000082,  // IA32_LSTAR
    0xc0000083,  // IA32_CSTAR
    0xc0000084,  // IA32_FMASK
    0xc0000100,  // IA32_FS_BASE
    0xc0000101,  // IA32_GS_BASE
    0xc0000102,  // IA32_KERNEL_GS_BASE
    0xc0000103,  // IA32_TSC_AUX: last, it is passed through only when RDTSCP is enabled
};

}  // namespace

void build_io_bitmaps(IoBitmaps& bitmaps, std::span<const std::uint16_t> passthrough) {
    for (auto& byte : bitmaps.a) byte = 0xff;
    for (auto& byte : bitmaps.b) byte = 0xff;
    for (std::uint16_t port : passthrough) {
        set_bit(port < 0x8000 ? bitmaps.a : bitmaps.b, port % 0x8000u, false);
    }
}

bool io_exits(const IoBitmaps& bitmaps, std::uint16_t port) {
    return get_bit(port < 0x8000 ? bitmaps.a : bitmaps.b, port % 0x8000u);
}

void build_msr_bitmap(MsrBitmap& bitmap, std::span<const std::uint32_t> passthrough) {
    for (auto* part : {bitmap.read_low, bitmap.read_high, bitmap.write_low, bitmap.write_high}) {
        for (unsigned i = 0; i < 1024; ++i) part[i] = 0xff;
    }
    for (std::uint32_t msr : passthrough) {
        bool high = false;
        unsigned index = 0;
        if (!msr_slot(msr, high, index)) continue;
        set_bit(high ? bitmap.read_high : bitmap.read_low, index, false);
        set_bit(high ? bitmap.write_high : bitmap.write_low, index, false);
    }
}

bool msr_read_exits(const MsrBitmap& bitmap, std::uint32_t msr) {
    bool high = false;
    unsigned index = 0;
    if (!msr_slot(msr, high, index)) return true;
    return get_bit(high ? bitmap.read_high : bitmap.read_low, index);
}

bool msr_write_exits(const MsrBitmap& bitmap, std::uint32_t msr) {
    bool high = false;
    unsigned index = 0;
    if (!msr_slot(msr, high, index)) return true;
    return get_bit(high ? bitmap.write_high : bitmap.write_low, index);
}

std::span<const std::uint16_t> passthrough_ports() { return kPorts; }

std::size_t speculation_passthrough_msrs(bool spec_ctrl, bool pred_cmd, bool flush_cmd, std::uint32_t (&out)[3]) {
    std::size_t n = 0;
    if (spec_ctrl) out[n++] = 0x48;   // IA32_SPEC_CTRL: the guest's, carried in checkpoints
    if (pred_cmd) out[n++] = 0x49;    // IA32_PRED_CMD: write-only command (IBPB)
    if (flush_cmd) out[n++] = 0x10b;  // IA32_FLUSH_CMD: write-only command (L1D flush)
    return n;
}

std::span<const std::uint32_t> passthrough_msrs(bool rdtscp_enabled) {
    std::span<const std::uint32_t> all{kMsrs};
    return rdtscp_enabled ? all : all.first(all.size() - 1);
}

}  // namespace tandem::x86
