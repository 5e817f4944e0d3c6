// Configuration-space access: the checked wrappers of ConfigSpace, mechanism #1 over a fake
// port decoder, ECAM over a fake memory window, enabling a function, names and addresses.
#include <doctest/doctest.h>

#include <vector>

#include "fake_pci.hpp"
#include "helpers.hpp"
#include "nic-drivers/pci/class_names.hpp"
#include "nic-drivers/pci/command.hpp"
#include "nic-drivers/pci/ecam.hpp"
#include "nic-drivers/pci/mechanism1.hpp"

using namespace tandem;
using namespace tandem::pci;
using test::FakeConfigSpace;

namespace {

// Ports 0xCF8/0xCFC-0xCFF as a chipset decodes them, in front of a fake configuration space.
struct FakePorts {
    FakeConfigSpace& space;
    std::uint32_t address = 0;
    unsigned bad_accesses = 0;

    std::uint32_t data_read(std::uint16_t port, unsigned width) {
        if ((address & 0x8000'0000u) == 0 || port < 0xcfc || port + width > 0xd00) {
            ++bad_accesses;
            return 0xffff'ffffu;
        }
        Address a{static_cast<std::uint8_t>(address >> 16), static_cast<std::uint8_t>((address >> 11) & 0x1f),
                  static_cast<std::uint8_t>((address >> 8) & 7)};
        auto offset = static_cast<std::uint16_t>((address & 0xfc) + (port - 0xcfc));
        if (width == 1) return space.read8(a, offset);
        if (width == 2) return space.read16(a, offset);
        return space.read32(a, offset);
    }
    void data_write(std::uint16_t port, unsigned width, std::uint32_t v) {
        if ((address & 0x8000'0000u) == 0 || port < 0xcfc || port + width > 0xd00) {
            ++bad_accesses;
            return;
        }
        Address a{static_cast<std::uint8_t>(address >> 16), static_cast<std::uint8_t>((address >> 11) & 0x1f),
                  static_cast<std::uint8_t>((address >> 8) & 7)};
        auto offset = static_cast<std::uint16_t>((address & 0xfc) + (port - 0xcfc));
        if (width == 1) space.write8(a, offset, static_cast<std::uint8_t>(v));
        if (width == 2) space.write16(a, offset, static_cast<std::uint16_t>(v));
        if (width == 4) space.write32(a, offset, v);
    }

    std::uint8_t in8(std::uint16_t p) { return static_cast<std::uint8_t>(data_read(p, 1)); }
    std::uint16_t in16(std::uint16_t p) { return static_cast<std::uint16_t>(data_read(p, 2)); }
    std::uint32_t in32(std::uint16_t p) { return p == 0xcf8 ? address : data_read(p, 4); }
    void out8(std::uint16_t p, std::uint8_t v) { data_write(p, 1, v); }
    void out16(std::uint16_t p, std::uint16_t v) { data_write(p, 2, v); }
    void out32(std::uint16_t p, std::uint32_t v) {
        if (p == 0xcf8) {
            address = v;
        } else {
            data_write(p, 4, v);
        }
    }
};

// ECAM memory for buses start..end as one flat byte array in front of a fake config space.
struct FakeEcamMemory {
    FakeConfigSpace& space;
    std::uint8_t start_bus;
    std::vector<std::uint64_t> offsets;

    Address decode(std::uint64_t offset) const {
        return Address{static_cast<std::uint8_t>(start_bus + (offset >> 20)),
                       static_cast<std::uint8_t>((offset >> 15) & 0x1f), static_cast<std::uint8_t>((offset >> 12) & 7)};
    }
    std::uint32_t load(std::uint64_t offset, unsigned width) {
        offsets.push_back(offset);
        auto reg = static_cast<std::uint16_t>(offset & 0xfff);
        if (reg >= 256) return 0;  // extended space not modelled
        return space.read(decode(offset), reg, width);
    }
    void store(std::uint64_t offset, unsigned width, std::uint32_t value) {
        offsets.push_back(offset);
        space.write(decode(offset), static_cast<std::uint16_t>(offset & 0xfff), width, value);
    }
};

}  // namespace

TEST_SUITE("pci") {

TEST_CASE("pci: config wrappers refuse misaligned, out-of-range and invalid-address accesses") {
    FakeConfigSpace cs;
    Address a{0, 3, 0};
    cs.add(a, 0x8086, 0x100e, 0x02, 0x00);
    CHECK(cs.read16(a, 0) == 0x8086);
    CHECK(cs.read32(a, 0) == 0x100e8086);
    CHECK(cs.read8(a, 3) == 0x10);
    cs.clear_log();
    CHECK(cs.read16(a, 1) == 0xffff);          // misaligned
    CHECK(cs.read32(a, 254) == 0xffff'ffffu);  // misaligned
    CHECK(cs.read32(a, 256) == 0xffff'ffffu);  // past mechanism #1's 256 bytes
    CHECK(cs.read8({0, 32, 0}, 0) == 0xff);    // device 32 does not exist
    CHECK(cs.read8({0, 3, 8}, 0) == 0xff);     // nor function 8
    cs.write32(a, 2, 0);
    cs.write16(a, 255, 0);
    CHECK(cs.log().empty());                         // none of these reached the implementation
    CHECK(cs.read32({9, 9, 1}, 0) == 0xffff'ffffu);  // absent function
}

TEST_CASE("pci: mechanism #1 addresses dwords through 0xCF8 and bytes through the data port lanes") {
    FakeConfigSpace cs;
    Address nic{0, 3, 0};
    cs.add(nic, 0x8086, 0x100e, 0x02, 0x00, 0x00, 0, 0x03);
    cs.set_interrupt(nic, 11, 1);
    cs.bar_memory32(nic, 0, 0xfebc0000, 128 << 10);
    FakePorts ports{cs};
    Mechanism1ConfigSpace<FakePorts> m1(ports);
    CHECK(m1.limit() == 256);
    CHECK(m1.read32(nic, 0) == 0x100e8086);
    CHECK(ports.address == 0x8000'1800u);
    CHECK(m1.read16(nic, 2) == 0x100e);
    CHECK(m1.read8(nic, 0x08) == 0x03);
    CHECK(m1.read8(nic, 0x3d) == 1);  // byte lane 1 of dword 0x3c
    CHECK(ports.address == 0x8000'183cu);
    CHECK(m1.read8(nic, 0x3c) == 11);
    m1.write8(nic, 0x3c, 5);
    CHECK(cs.read8(nic, 0x3c) == 5);
    m1.write16(nic, reg::kCommand, command::kMemorySpace);
    CHECK(cs.at(nic).command() == command::kMemorySpace);
    m1.write32(nic, reg::kBar0, 0xffff'ffffu);
    CHECK(m1.read32(nic, reg::kBar0) == 0xfffe0000u);
    CHECK(m1.read32({0, 4, 0}, 0) == 0xffff'ffffu);
    CHECK(ports.bad_accesses == 0);
    CHECK(mechanism1_address({2, 31, 7}, 0x3e) == 0x8002'ff3cu);
}

TEST_CASE("pci: ECAM maps bus/device/function/register into the MCFG window") {
    FakeConfigSpace cs;
    Address a{0x21, 2, 1};
    cs.add(a, 0x1af4, 0x1041, 0x02, 0x00);
    FakeEcamMemory mem{cs, 0x20, {}};
    EcamConfigSpace<FakeEcamMemory> ecam(mem, 0x20, 0x2f);
    CHECK(ecam.limit() == 4096);
    CHECK(ecam.read16(a, 0) == 0x1af4);
    CHECK(mem.offsets.back() == (1ull << 20 | 2ull << 15 | 1ull << 12));
    CHECK(ecam.read16(a, 2) == 0x1041);
    CHECK(ecam.read32(a, 0x100) == 0);  // extended space exists with ECAM
    CHECK(mem.offsets.back() == (1ull << 20 | 2ull << 15 | 1ull << 12 | 0x100));
    std::size_t accesses = mem.offsets.size();
    CHECK(ecam.read32({0x10, 0, 0}, 0) == 0xffff'ffffu);  // below the MCFG range
    CHECK(ecam.read16({0x30, 0, 0}, 0) == 0xffff);        // above it
    CHECK(ecam.read8({0x30, 0, 0}, 0) == 0xff);
    ecam.write32({0x30, 0, 0}, 0x10, 0);
    CHECK(mem.offsets.size() == accesses);  // never touched memory
    ecam.write8(a, 0x3c, 7);
    CHECK(cs.read8(a, 0x3c) == 7);
}

TEST_CASE("pci: VolatileEcamAccess reads and writes the mapped bytes little-endian") {
    alignas(4) std::uint8_t window[8192] = {};
    VolatileEcamAccess access(window);
    access.store(4096 + 4, 4, 0x11223344u);
    CHECK(window[4096 + 4] == 0x44);
    CHECK(access.load(4096 + 6, 2) == 0x1122);
    CHECK(access.load(4096 + 7, 1) == 0x11);
    access.store(4096 + 4, 1, 0xaa);
    access.store(4096 + 6, 2, 0xbbcc);
    CHECK(access.load(4096 + 4, 4) == 0xbbcc33aau);
}

TEST_CASE("pci: enable_function sets memory decode, bus mastering and INTx disable, keeps other bits") {
    FakeConfigSpace cs;
    Address a{0, 3, 0};
    cs.add(a, 0x8086, 0x100e, 0x02, 0x00);
    cs.set_command(a, command::kIoSpace);
    cs.set_status(a, 0x4000);  // a pending write-one-to-clear bit must survive
    std::uint16_t cmd = enable_function(cs, a, Enable{});
    CHECK(cmd == (command::kIoSpace | command::kMemorySpace | command::kBusMaster | command::kInterruptDisable));
    CHECK(cs.read16(a, reg::kStatus) == 0x4000);
    CHECK(cs.at(a).status_writes == 0);
    Address b{0, 4, 0};
    cs.add(b, 0x8086, 0x100e, 0x02, 0x00);
    CHECK(enable_function(cs, b, Enable{false, true, false, false}) == command::kIoSpace);
}

TEST_CASE("pci: class names and address formatting") {
    CHECK(std::string(class_name(0x02, 0x00)) == "Ethernet");
    CHECK(std::string(class_name(0x02, 0x80)) == "Network");
    CHECK(std::string(class_name(0x06, 0x04)) == "PCI bridge");
    CHECK(std::string(class_name(0x13, 0x00)) == "Instrumentation");
    CHECK(std::string(class_name(0x40, 0x00)) == "Unknown");
    CHECK(std::string(class_name(0xff, 0x00)) == "Unknown");
    CHECK(test::format("at {}", Address{0xab, 0x1f, 7}) == "at ab:1f.7");
    CHECK(test::format("{}", Address{0, 3, 0}) == "00:03.0");
    CHECK(Address{1, 2, 3}.key() == 0x113);
    CHECK_FALSE((Address{0, 32, 0}.valid()));
}

}  // TEST_SUITE
