// What the guest ACPI table tests (test_guest_acpi.cpp, test_guest_acpi_iasl.cpp) share: a sample
// configuration, the built region with its table lookup, little-endian reads and the common
// header checks.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "guest-boot/acpi/guest_acpi.hpp"
#include "guest-boot/acpi/table_layout.hpp"
#include "hypervisor/util/bytes.hpp"

namespace guest_acpi_test {

using namespace tandem;
using namespace tandem::guest_boot::acpi;
using Bytes = std::vector<std::uint8_t>;

inline constexpr std::uint64_t kBase = 0x000e'0000;

inline constexpr VirtioMmioDevice kDevices[] = {
    {0xd000'0000, 0x1000, 5, Trigger::edge},
    {0xd000'1000, 0x200, 17, Trigger::level},
};

inline AcpiConfig sample_config() {
    AcpiConfig c{};
    c.table_base = kBase;
    c.sleep_control_port = 0x3c0;
    c.sleep_status_port = 0x3c1;
    c.reset_port = 0x3c2;
    c.reset_value = 0x42;
    c.pm_timer_port = 0x608;
    c.virtio_devices = kDevices;
    c.com1.present = true;
    return c;
}

struct Built {
    Bytes region;
    AcpiTables tables;
    std::span<const std::uint8_t> at(std::uint64_t gpa, std::size_t n) const {
        REQUIRE(gpa >= tables.base);
        REQUIRE(gpa - tables.base + n <= region.size());
        return std::span<const std::uint8_t>{region}.subspan(gpa - tables.base, n);
    }
    // The table whose header is at gpa, by its length field.
    std::span<const std::uint8_t> table(std::uint64_t gpa) const {
        std::uint32_t length = load_le<std::uint32_t>(at(gpa, sizeof(SdtHeader)), 4);
        return at(gpa, length);
    }
};

inline Built build(const AcpiConfig& config, std::size_t capacity = 0x4000) {
    Built b;
    b.region.assign(capacity, 0xcc);
    Result<AcpiTables> r = build_acpi_tables(config, b.region);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    b.tables = *r;
    b.region.resize(b.tables.size);
    return b;
}

template <class T>
inline T le(std::span<const std::uint8_t> bytes, std::size_t offset) {
    return load_le<T>(bytes, offset);
}

inline std::string text(std::span<const std::uint8_t> bytes, std::size_t offset, std::size_t n) {
    return std::string(reinterpret_cast<const char*>(bytes.data() + offset), n);
}

inline bool contains(std::span<const std::uint8_t> hay, const Bytes& needle) {
    if (needle.size() > hay.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
        if (std::memcmp(hay.data() + i, needle.data(), needle.size()) == 0) return true;
    }
    return false;
}

inline void check_header(std::span<const std::uint8_t> t, const char* signature, std::uint8_t revision) {
    CAPTURE(signature);
    CHECK(text(t, 0, 4) == signature);
    CHECK(le<std::uint32_t>(t, 4) == t.size());
    CHECK(t[8] == revision);
    CHECK(checksum_ok(t));
    CHECK(text(t, 10, 6) == "TANDEM");
    CHECK(text(t, 16, 8) == "TANDEMVM");
}

// Device (RTC) with the default RtcConfig, as AML: DeviceOp, PkgLength, "RTC_",
// Name(_HID, EisaId("PNP0B00")), Name(_CRS, Buffer(19) { IO(Decode16, 0x70, 0x70, 1, 2),
// Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive){8}, End Tag with its checksum }).
inline const Bytes kRtcDevice = {
    0x5b, 0x82, 0x2b, 'R', 'T', 'C', '_',                                   //
    0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0b, 0x00,                 //
    0x08, '_', 'C', 'R', 'S', 0x11, 0x16, 0x0a, 0x13,                       //
    0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02,                         // IO (§6.4.2.5)
    0x89, 0x06, 0x00, 0x03, 0x01, 0x08, 0x00, 0x00, 0x00,                   // Interrupt (§6.4.3.6)
    0x79, 0xc1,                                                             // End Tag (§6.4.2.9)
};

inline std::string message_of(const Result<AcpiTables>& r) { return r.ok() ? std::string{} : std::string{r.error().message}; }

}  // namespace guest_acpi_test
