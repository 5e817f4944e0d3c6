// A fake CpuStatePlatform (arch-x86_64/vmx/cpu_state_capture.hpp): TSC, XCR0, an XSAVE area, MSRs
// and debug registers as plain values, with every write the code under test makes counted.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "arch-x86_64/vmx/cpu_state_capture.hpp"

namespace ckpt {

// Makes `image` (a standard-format XSAVE area) one XRSTOR would load: MXCSR at its reset value,
// the header zero but XSTATE_BV (SDM Vol. 1 §13.8.1; checked by check_xsave_image).
inline void make_restorable(std::vector<std::uint8_t>& image, std::uint64_t xstate_bv) {
    const std::uint32_t mxcsr = 0x1f80;
    for (unsigned i = 0; i < 4; ++i) image[24 + i] = static_cast<std::uint8_t>(mxcsr >> (8 * i));
    for (unsigned i = 512; i < 576; ++i) image[i] = 0;
    for (unsigned i = 0; i < 8; ++i) image[512 + i] = static_cast<std::uint8_t>(xstate_bv >> (8 * i));
}

class FakeCpuPlatform final : public tandem::x86::CpuStatePlatform {
public:
    std::uint64_t read_tsc() const override { return tsc; }
    std::uint64_t read_xcr0() const override { return xcr0; }
    bool write_xcr0(std::uint64_t value) override {
        ++writes;
        if (refuse_xcr0) return false;
        xcr0 = value;
        return true;
    }
    const tandem::x86::XsaveLayout& xsave_layout() const override { return layout; }
    std::uint32_t save_extended_state(std::span<std::uint8_t> area) override {
        if (xsave.empty() || area.size() < xsave.size()) return 0;
        std::copy(xsave.begin(), xsave.end(), area.begin());
        return static_cast<std::uint32_t>(xsave.size());
    }
    void restore_extended_state(std::span<const std::uint8_t> area) override {
        ++writes;
        xsave.assign(area.begin(), area.end());
    }
    std::uint64_t read_msr(std::uint32_t msr) const override {
        auto it = msrs.find(msr);
        return it == msrs.end() ? 0 : it->second;
    }
    void write_msr(std::uint32_t msr, std::uint64_t value) override {
        ++writes;
        msrs[msr] = value;
    }
    bool has_tsc_aux() const override { return tsc_aux; }
    bool has_spec_ctrl() const override { return spec_ctrl; }
    std::uint64_t read_debug_register(unsigned n) const override { return dr.at(n); }
    void write_debug_register(unsigned n, std::uint64_t value) override {
        ++writes;
        dr.at(n) = value;
    }

    std::uint64_t tsc = 0, xcr0 = 0;
    // The guest gets x87, SSE, AVX and AVX-512: a 2688-byte area (Hi16_ZMM ends there, CPUID.(0DH,7)).
    tandem::x86::XsaveLayout layout{0x2e7, 2696, 0xe7, 2688};
    std::vector<std::uint8_t> xsave;
    std::map<std::uint32_t, std::uint64_t> msrs;
    bool tsc_aux = true, spec_ctrl = true, refuse_xcr0 = false;
    std::array<std::uint64_t, 8> dr{};
    unsigned writes = 0;
};

}  // namespace ckpt
