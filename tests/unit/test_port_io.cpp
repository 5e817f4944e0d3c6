// The guest's port-I/O bus (hypervisor/devices/port_io.hpp): devices claim disjoint ranges;
// unclaimed ports behave like an empty ISA bus (reads all ones, writes dropped) and are reported
// once per port.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "helpers.hpp"
#include "hypervisor/devices/port_io.hpp"

using namespace tandem;

namespace {

class Recorder final : public PortIoDevice {
public:
    struct Access {
        bool write;
        std::uint16_t port;
        unsigned size;
        std::uint32_t value;
    };
    std::uint32_t read(std::uint16_t port, unsigned size) override {
        log.push_back({false, port, size, 0});
        return 0x40 + port;
    }
    void write(std::uint16_t port, unsigned size, std::uint32_t value) override {
        log.push_back({true, port, size, value});
    }
    std::vector<Access> log;
};

void check_error(const Status& s, const char* message, std::uint64_t value) {
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == message);
    CHECK(s.error().value == value);
}

std::size_t count_lines(const std::string& s) {
    std::size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

}  // namespace

TEST_SUITE("port_io") {

TEST_CASE("attach: disjoint ranges only, within the 64 Ki port space, at most 16") {
    test::StringWriter log;
    PortIoBus bus(log);
    Recorder a, b;
    REQUIRE(bus.attach(0x3f8, 8, a).ok());
    check_error(bus.attach(0x3ff, 1, b), "port I/O: range overlaps another device", 0x3ff);
    check_error(bus.attach(0x3f0, 9, b), "port I/O: range overlaps another device", 0x3f0);
    check_error(bus.attach(0x3fa, 2, b), "port I/O: range overlaps another device", 0x3fa);
    check_error(bus.attach(0x300, 0x200, b), "port I/O: range overlaps another device", 0x300);
    REQUIRE(bus.attach(0x3f0, 8, b).ok());  // adjacent below
    REQUIRE(bus.attach(0x400, 1, b).ok());  // adjacent above
    check_error(bus.attach(0x500, 0, b), "port I/O: bad port range", 0x500);
    check_error(bus.attach(0xfff0, 0x11, b), "port I/O: bad port range", 0xfff0);
    REQUIRE(bus.attach(0xfff0, 0x10, b).ok());  // up to the last port

    for (std::uint16_t i = 0; i < 12; ++i)
        REQUIRE(bus.attach(static_cast<std::uint16_t>(0x1000 + 0x10 * i), 4, b).ok());
    check_error(bus.attach(0x2000, 4, b), "port I/O: too many devices", 16);
    CHECK(log.str().empty());
}

TEST_CASE("accesses reach the device that claims the port, with port, size and value") {
    test::StringWriter log;
    PortIoBus bus(log);
    Recorder uart, other;
    REQUIRE(bus.attach(0x3f8, 8, uart).ok());
    REQUIRE(bus.attach(0x60, 1, other).ok());
    CHECK(bus.read(0x3fd, 1) == 0x40 + 0x3fd);
    bus.write(0x3ff, 2, 0xbeef);
    bus.write(0x3f8, 4, 0x12345678);
    CHECK(bus.read(0x60, 1) == 0xa0);
    REQUIRE(uart.log.size() == 3);
    CHECK_FALSE(uart.log[0].write);
    CHECK(uart.log[0].port == 0x3fd);
    CHECK(uart.log[1].write);
    CHECK(uart.log[1].port == 0x3ff);
    CHECK(uart.log[1].size == 2);
    CHECK(uart.log[1].value == 0xbeef);
    CHECK(uart.log[2].size == 4);
    CHECK(uart.log[2].value == 0x12345678);
    REQUIRE(other.log.size() == 1);
    CHECK(bus.unclaimed_accesses() == 0);
    CHECK(log.str().empty());
}

TEST_CASE("unclaimed ports: all ones for each size, writes dropped, reported once per port") {
    test::StringWriter log;
    PortIoBus bus(log);
    Recorder uart;
    REQUIRE(bus.attach(0x3f8, 8, uart).ok());
    CHECK(bus.read(0x2f8, 1) == 0xff);
    CHECK(bus.read(0x2f8, 2) == 0xffff);
    CHECK(bus.read(0x2f8, 4) == 0xffffffff);
    bus.write(0x2f8, 1, 0);
    bus.write(0x80, 1, 0x55);
    bus.write(0x80, 1, 0x56);
    CHECK(bus.read(0x80, 1) == 0xff);
    CHECK(bus.read(0x3f7, 1) == 0xff);  // just below the UART
    CHECK(uart.log.empty());
    CHECK(bus.unclaimed_accesses() == 8);
    CHECK(log.str() == "vm: guest read port 0x02f8: no device there (reads return all ones, writes are dropped)\n"
                       "vm: guest wrote port 0x0080: no device there (reads return all ones, writes are dropped)\n"
                       "vm: guest read port 0x03f7: no device there (reads return all ones, writes are dropped)\n");
}

TEST_CASE("unclaimed ports: the first 32 are reported, every access is counted") {
    test::StringWriter log;
    PortIoBus bus(log);
    for (unsigned round = 0; round < 2; ++round) {
        for (std::uint16_t p = 0x100; p < 0x100 + 40; ++p) CHECK(bus.read(p, 1) == 0xff);
    }
    CHECK(count_lines(log.str()) == PortIoBus::kMaxReportedPorts);
    CHECK(log.str().find("port 0x011f:") != std::string::npos);
    CHECK(log.str().find("port 0x0120:") == std::string::npos);
    CHECK(bus.unclaimed_accesses() == 80);
}

}  // TEST_SUITE
