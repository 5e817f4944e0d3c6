// The ACPI PM timer (hypervisor/devices/acpi_pm_timer.hpp): 3.579545 MHz on the guest TSC, 32
// bits wide, read by double word or by its bytes, read-only, and its TSC frequency carried in
// the checkpointed state (a backup keeps counting at the rate the guest booted with).
#include <doctest/doctest.h>

#include "device_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/acpi_pm_timer.hpp"
#include "hypervisor/devices/pc_platform.hpp"

using tandem::AcpiPmTimer;

TEST_CASE("pm timer: counts 3579545 per second of guest TSC, wrapping at 32 bits") {
    test::FakeClock clock;
    const std::uint64_t hz = 2'100'000'000;  // a 2.1 GHz TSC
    AcpiPmTimer t(clock, hz);
    CHECK(t.read(AcpiPmTimer::kPort, 4) == 0);
    clock.tsc = hz;  // one second
    CHECK(t.read(AcpiPmTimer::kPort, 4) == 3579545);
    clock.tsc = hz / 1000;  // a millisecond: 3579.545 counts, rounded down
    CHECK(t.read(AcpiPmTimer::kPort, 4) == 3579);
    // 2^32 counts last 1199.86 s: at 1200 s it has wrapped once.
    clock.tsc = 1200 * hz;
    CHECK(t.read(AcpiPmTimer::kPort, 4) == static_cast<std::uint32_t>(1200ull * 3579545 - (1ull << 32)));
    // A guest TSC near 2^64 does not overflow the product.
    clock.tsc = ~0ull;
    CHECK(t.value_at(~0ull) == static_cast<std::uint32_t>(static_cast<unsigned __int128>(~0ull) * 3579545 / hz));
}

TEST_CASE("pm timer: byte and word reads see the counter's bytes at their offset; writes change nothing") {
    test::FakeClock clock;
    AcpiPmTimer t(clock, 3579545);  // one count per TSC cycle
    clock.tsc = 0x12345678;
    CHECK(t.read(AcpiPmTimer::kPort, 4) == 0x12345678u);
    CHECK(t.read(AcpiPmTimer::kPort, 1) == 0x78u);
    CHECK(t.read(AcpiPmTimer::kPort, 2) == 0x5678u);
    CHECK(t.read(AcpiPmTimer::kPort + 1, 1) == 0x56u);
    CHECK(t.read(AcpiPmTimer::kPort + 2, 2) == 0x1234u);
    CHECK(t.read(AcpiPmTimer::kPort + 3, 1) == 0x12u);
    t.write(AcpiPmTimer::kPort, 4, 0);
    CHECK(t.read(AcpiPmTimer::kPort, 4) == 0x12345678u);
}

TEST_CASE("pm timer: the TSC frequency travels with the state; bad state is refused and changes nothing") {
    test::FakeClock clock;
    AcpiPmTimer primary(clock, 2'000'000'000);
    AcpiPmTimer backup(clock, 2'000'100'000);  // its own calibration differs slightly
    auto state = test::saved_state(primary);
    REQUIRE(state.size() == 8);
    CHECK(test::status_message(backup.restore_state(1, state)) == "");
    CHECK(backup.tsc_hz() == 2'000'000'000);
    clock.tsc = 123'456'789'000;
    CHECK(backup.read(AcpiPmTimer::kPort, 4) == primary.read(AcpiPmTimer::kPort, 4));

    AcpiPmTimer other(clock, 1'000'000'000);
    test::check_malformed_states_refused(other, state, 1);
    std::vector<std::uint8_t> zero(8, 0);
    CHECK(test::status_message(other.restore_state(1, zero)) == "pm-timer: zero TSC frequency in state");
    CHECK(other.tsc_hz() == 1'000'000'000);
}

TEST_CASE("pm timer: the PC platform answers at its port and checkpoints it") {
    test::FakeClock clock;
    test::StringWriter log;
    tandem::PcPlatformConfig config{};
    config.tsc_hz = 3579545;
    tandem::PcPlatform pc(clock, log, config);
    tandem::PortIoBus io(log);
    tandem::MmioBus mmio;
    REQUIRE(pc.attach(io, mmio));
    clock.tsc = 1000;
    CHECK(io.read(AcpiPmTimer::kPort, 4) == 1000u);
    bool listed = false;
    for (auto* d : pc.devices()) listed = listed || d->state_id() == tandem::kDeviceIdAcpiPmTimer;
    CHECK(listed);
}
