// Fakes for the interrupt and timer device models (hypervisor/devices/*_model.hpp): a guest clock
// the test sets, IOAPIC pins that record every change, an APIC that records the messages it
// gets, and helpers to save a model's state and to compare error messages.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "hypervisor/devices/apic_bus.hpp"
#include "hypervisor/devices/device_state.hpp"
#include "hypervisor/devices/guest_clock.hpp"
#include "hypervisor/devices/interrupt_line.hpp"

namespace test {

class FakeClock final : public tandem::GuestClock {
public:
    std::uint64_t guest_tsc() const override { return tsc; }
    std::uint64_t tsc = 0;
};

class RecordingIrqLines final : public tandem::IrqLines {
public:
    void set_irq(unsigned pin, bool asserted) override {
        changes.emplace_back(pin, asserted);
        if (pin < 32) {
            if (asserted && !(levels & (1u << pin))) ++rising[pin];
            levels = asserted ? levels | (1u << pin) : levels & ~(1u << pin);
        }
    }
    bool level(unsigned pin) const { return (levels >> pin) & 1; }
    std::vector<std::pair<unsigned, bool>> changes;
    std::uint32_t levels = 0;
    unsigned rising[32]{};
};

class RecordingApic final : public tandem::ApicInterruptSink {
public:
    bool accept(std::uint8_t vector, bool level_triggered) override {
        messages.emplace_back(vector, level_triggered);
        return accepting;
    }
    std::vector<std::pair<std::uint8_t, bool>> messages;
    bool accepting = true;
};

class RecordingEoi final : public tandem::EoiListener {
public:
    void end_of_interrupt(std::uint8_t vector) override { vectors.push_back(vector); }
    std::vector<std::uint8_t> vectors;
};

inline std::string status_message(const tandem::Status& s) {
    return s ? std::string() : std::string(s.error().message);
}

inline std::vector<std::uint8_t> saved_state(const tandem::StatefulDevice& device) {
    std::vector<std::uint8_t> bytes(2048);
    tandem::ByteWriter w(bytes);
    device.save_state(w);
    REQUIRE_FALSE(w.overflow());
    bytes.resize(w.size());
    return bytes;
}

// Every strict prefix of a good state, the state with a byte appended, and the right bytes under
// another version are refused, and leave `target` exactly as it was.
inline void check_malformed_states_refused(tandem::StatefulDevice& target, const std::vector<std::uint8_t>& good,
                                           std::uint16_t version) {
    auto before = saved_state(target);
    for (std::size_t n = 0; n < good.size(); ++n) {
        CAPTURE(n);
        CHECK_FALSE(target.restore_state(version, {good.data(), n}).ok());
        REQUIRE(saved_state(target) == before);
    }
    auto longer = good;
    longer.push_back(0);
    CHECK(status_message(target.restore_state(version, longer)).find("trailing bytes") != std::string::npos);
    for (std::uint16_t v : {std::uint16_t(version - 1), std::uint16_t(version + 1), std::uint16_t(0xffff)}) {
        CHECK(status_message(target.restore_state(v, good)).find("unsupported state version") != std::string::npos);
    }
    CHECK(saved_state(target) == before);
}

}  // namespace test
