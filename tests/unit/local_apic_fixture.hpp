// What the local APIC tests (test_local_apic_*.cpp) share: the x2APIC MSR numbers and register
// bits, and a LocalApicModel (hypervisor/devices/local_apic_model.hpp) on a fake clock with a log
// and an EOI recorder, read and written through its MSRs.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "device_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/local_apic_model.hpp"

namespace lapic_test {

using tandem::LocalApicConfig;
using tandem::LocalApicModel;
using test::status_message;

inline constexpr std::uint32_t kApicBase = 0x1b, kTscDeadline = 0x6e0;
inline constexpr std::uint32_t kId = 0x802, kVersion = 0x803, kTpr = 0x808, kPpr = 0x80a, kEoi = 0x80b,
                               kLdr = 0x80d, kSvr = 0x80f, kIsr0 = 0x810, kTmr0 = 0x818, kIrr0 = 0x820,
                               kEsr = 0x828, kLvtCmci = 0x82f, kIcr = 0x830, kLvtTimer = 0x832,
                               kLvtThermal = 0x833, kLvtPerf = 0x834, kLvtLint0 = 0x835, kLvtLint1 = 0x836,
                               kLvtError = 0x837, kInitial = 0x838, kCurrent = 0x839, kDivide = 0x83e,
                               kSelfIpi = 0x83f;
inline constexpr std::uint64_t kEnabled = 0x1ff;  // SVR: APIC enabled, spurious vector 0xff
inline constexpr std::uint32_t kOneShot = 0, kPeriodic = 1u << 17, kDeadlineMode = 2u << 17, kMasked = 1u << 16;

struct Apic {
    explicit Apic(LocalApicConfig config = {}) : apic(clock, log, config) { apic.set_eoi_listener(&eoi); }

    std::uint64_t rd(std::uint32_t msr) {
        auto r = apic.read_msr(msr);
        CAPTURE(msr);
        REQUIRE(r.ok());
        return *r;
    }
    void wr(std::uint32_t msr, std::uint64_t value) {
        CAPTURE(msr);
        CAPTURE(value);
        REQUIRE(status_message(apic.write_msr(msr, value)) == "");
    }
    std::string read_error(std::uint32_t msr) {
        auto r = apic.read_msr(msr);
        return r ? std::string() : std::string(r.error().message);
    }
    std::string write_error(std::uint32_t msr, std::uint64_t value) {
        return status_message(apic.write_msr(msr, value));
    }
    std::vector<std::uint8_t> save() const { return test::saved_state(apic); }
    std::vector<std::uint64_t> registers() {
        std::vector<std::uint64_t> r;
        for (std::uint32_t msr = 0x800; msr <= 0x8ff; ++msr) {
            auto v = apic.read_msr(msr);
            r.push_back(v ? *v : 0xdead);
        }
        r.push_back(rd(kApicBase));
        r.push_back(rd(kTscDeadline));
        return r;
    }
    // Software-enables the APIC with the timer on `vector` in `mode`.
    void enable_timer(std::uint32_t mode, std::uint8_t vector = 0xec) {
        wr(kSvr, kEnabled);
        wr(kLvtTimer, mode | vector);
    }

    test::FakeClock clock;
    test::StringWriter log;
    test::RecordingEoi eoi;
    LocalApicModel apic;
};

}  // namespace lapic_test
