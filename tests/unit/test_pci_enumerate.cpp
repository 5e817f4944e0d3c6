// PCI enumeration (nic-drivers/pci/enumerate.hpp, bar_probe.hpp, print.hpp) over a fake
// configuration space (fake_pci.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>

#include "fake_pci.hpp"
#include "helpers.hpp"
#include "nic-drivers/pci/enumerate.hpp"
#include "nic-drivers/pci/print.hpp"

using namespace tandem;
using namespace tandem::pci;
using test::FakeConfigSpace;

namespace {

constexpr Address kHost{0, 0, 0};
constexpr Address kIsa{0, 1, 0};
constexpr Address kIde{0, 1, 1};
constexpr Address kAcpi{0, 1, 3};
constexpr Address kVga{0, 2, 0};
constexpr Address kNic{0, 3, 0};
constexpr std::uint16_t kDecode = command::kIoSpace | command::kMemorySpace;

// What QEMU's i440FX machine with one e1000 looks like.
void add_qemu_pc(FakeConfigSpace& cs) {
    cs.add(kHost, 0x8086, 0x1237, 0x06, 0x00, 0x00, 0, 0x02);
    cs.add(kIsa, 0x8086, 0x7000, 0x06, 0x01, 0x80);  // multi-function
    cs.add(kIde, 0x8086, 0x7010, 0x01, 0x01, 0x00, 0x80);
    cs.bar_io(kIde, 4, 0xc040, 16);
    cs.add(kAcpi, 0x8086, 0x7113, 0x06, 0x80, 0x00, 0, 0x03);
    cs.set_interrupt(kAcpi, 9, 1);
    cs.add(kVga, 0x1234, 0x1111, 0x03, 0x00, 0x00, 0, 0x02);
    cs.bar_memory32(kVga, 0, 0xfd000000, 16 << 20, true);
    cs.bar_memory32(kVga, 2, 0xfebf0000, 4096);
    cs.add(kNic, 0x8086, 0x100e, 0x02, 0x00, 0x00, 0, 0x03);
    cs.bar_memory32(kNic, 0, 0xfebc0000, 128 << 10);
    cs.bar_io(kNic, 1, 0xc000, 64);
    cs.set_interrupt(kNic, 11, 1);
    cs.set_command(kNic, command::kIoSpace | command::kMemorySpace);
}

std::unique_ptr<DeviceList> scan(FakeConfigSpace& cs, ScanSummary* summary = nullptr, ScanOptions options = {}) {
    auto list = std::make_unique<DeviceList>();
    ScanSummary s = enumerate(cs, *list, options);
    if (summary != nullptr) *summary = s;
    return list;
}

std::string printed(const DeviceList& list) {
    test::StringWriter w;
    print_devices(w, list);
    return w.str();
}

}  // namespace

TEST_SUITE("pci") {

TEST_CASE("pci: a QEMU-like bus 0 is listed in address order with identity and BARs decoded") {
    FakeConfigSpace cs;
    add_qemu_pc(cs);
    ScanSummary summary;
    auto list = scan(cs, &summary);
    REQUIRE(list->size() == 6);
    CHECK(summary.functions == 6);
    CHECK(summary.buses == 1);
    CHECK(summary.dropped == 0);
    const Address order[] = {kHost, kIsa, kIde, kAcpi, kVga, kNic};
    for (std::size_t i = 0; i < 6; ++i) CHECK(list->devices()[i].address == order[i]);

    const Device* nic = list->find(0x8086, 0x100e);
    REQUIRE(nic != nullptr);
    CHECK(nic->address == kNic);
    CHECK(nic->class_code == 0x02);
    CHECK(nic->subclass == 0x00);
    CHECK(nic->revision == 0x03);
    CHECK(nic->header_type == 0);
    CHECK_FALSE(nic->multifunction);
    CHECK(nic->interrupt_line == 11);
    CHECK(nic->interrupt_pin == 1);
    CHECK(nic->bar_count == 6);
    CHECK(nic->bars[0].kind == BarKind::memory32);
    CHECK(nic->bars[0].base == 0xfebc0000);
    CHECK(nic->bars[0].size == 128 * 1024);
    CHECK_FALSE(nic->bars[0].prefetchable);
    CHECK(nic->bars[1].kind == BarKind::io);
    CHECK(nic->bars[1].base == 0xc000);
    CHECK(nic->bars[1].size == 64);
    for (unsigned i = 2; i < 6; ++i) CHECK_FALSE(nic->bars[i].present());

    const Device* vga = list->find(kVga);
    REQUIRE(vga != nullptr);
    CHECK(vga->bars[0].prefetchable);
    CHECK(vga->bars[0].size == 16u << 20);
    CHECK(vga->bars[2].size == 4096);
    CHECK(list->find(kIsa)->multifunction);
    CHECK(list->find(0x8086, 0x100e, 1) == nullptr);
}

TEST_CASE("pci: the listing prints one lspci-like line per function") {
    FakeConfigSpace cs;
    add_qemu_pc(cs);
    auto list = scan(cs);
    std::string out = printed(*list);
    CHECK(out.find("pci: 00:03.0 8086:100e class 02.00 (Ethernet) rev 03 irq 11 pin A "
                   "BAR0 mem32 0xfebc0000 size 128 KiB BAR1 io 0xc000 size 64 B\n") != std::string::npos);
    CHECK(out.find("pci: 00:01.1 8086:7010 class 01.01 (IDE) prog-if 80 rev 00 BAR4 io 0xc040 size 16 B\n") !=
          std::string::npos);
    CHECK(out.find("pci: 00:02.0 1234:1111 class 03.00 (VGA) rev 02 BAR0 mem32 pf 0xfd000000 size 16 MiB") !=
          std::string::npos);
    CHECK(out.find("pci: 00:00.0 8086:1237 class 06.00 (Host bridge) rev 02\n") != std::string::npos);
    CHECK(std::count(out.begin(), out.end(), '\n') == 6);
}

TEST_CASE("pci: functions 1-7 are scanned only on multi-function devices") {
    FakeConfigSpace cs;
    cs.add(kHost, 0x8086, 0x1237, 0x06, 0x00);
    cs.add({0, 4, 0}, 0x10ec, 0x8139, 0x02, 0x00);
    cs.ghost_all_functions({0, 4, 0});              // answers on every function number
    cs.add({0, 5, 2}, 0x1af4, 0x1000, 0x02, 0x00);  // function 2 without function 0: absent device
    auto list = scan(cs);
    CHECK(list->size() == 2);
    CHECK(list->find({0, 4, 1}) == nullptr);
    CHECK(list->find({0, 5, 2}) == nullptr);
}

TEST_CASE("pci: absent slots read 0xffff and cost one vendor read each") {
    FakeConfigSpace cs;
    cs.add(kHost, 0x8086, 0x1237, 0x06, 0x00);
    auto list = scan(cs);
    CHECK(list->size() == 1);
    std::size_t absent_reads = 0;
    for (const auto& a : cs.log()) {
        if (!cs.has(a.at)) {
            ++absent_reads;
            CHECK(a.offset == reg::kVendorId);
            CHECK_FALSE(a.write);
        }
    }
    CHECK(absent_reads == 31);
}

TEST_CASE("pci: bridges lead to their secondary buses, nested, each scanned once") {
    FakeConfigSpace cs;
    cs.add(kHost, 0x8086, 0x29c0, 0x06, 0x00);
    cs.add({0, 0x1c, 0}, 0x8086, 0x2940, 0x06, 0x04, 0x81);  // root port, multi-function bridge
    cs.bridge({0, 0x1c, 0}, 0, 1, 2);
    cs.add({0, 0x1c, 1}, 0x8086, 0x2942, 0x06, 0x04, 0x81);
    cs.bridge({0, 0x1c, 1}, 0, 3, 3);
    cs.add({1, 0, 0}, 0x10b5, 0x8112, 0x06, 0x04, 0x01);  // bridge behind the bridge
    cs.bridge({1, 0, 0}, 1, 2, 2);
    cs.add({2, 5, 0}, 0x8086, 0x10d3, 0x02, 0x00);
    cs.bar_memory64({2, 5, 0}, 0, 0x40'0000'0000ull, 16ull << 30, true);
    cs.bar_io({2, 5, 0}, 2, 0xe000, 32);
    cs.add({3, 0, 0}, 0x8086, 0x100e, 0x02, 0x00);
    cs.add({4, 0, 0}, 0x8086, 0x100e, 0x02, 0x00);  // no bridge leads here
    ScanSummary summary;
    auto list = scan(cs, &summary);
    CHECK(summary.buses == 4);
    REQUIRE(list->size() == 6);
    const Device* port = list->find({0, 0x1c, 0});
    REQUIRE(port != nullptr);
    CHECK(port->is_bridge());
    CHECK(port->bar_count == 2);
    CHECK(port->secondary_bus == 1);
    CHECK(port->subordinate_bus == 2);
    const Device* deep = list->find({2, 5, 0});
    REQUIRE(deep != nullptr);
    CHECK(deep->bars[0].kind == BarKind::memory64);
    CHECK(deep->bars[0].prefetchable);
    CHECK(deep->bars[0].base == 0x40'0000'0000ull);
    CHECK(deep->bars[0].size == 16ull << 30);
    CHECK(deep->bars[1].upper_half);
    CHECK_FALSE(deep->bars[1].present());
    CHECK(deep->bars[2].kind == BarKind::io);
    CHECK(deep->bars[2].size == 32);
    CHECK(list->find({3, 0, 0}) != nullptr);
    CHECK(list->find({4, 0, 0}) == nullptr);
    CHECK(printed(*list).find("pci: 00:1c.0 8086:2940 class 06.04 (PCI bridge) rev 00 bus 01-02\n") !=
          std::string::npos);
    CHECK(printed(*list).find("BAR0 mem64 pf 0x4000000000 size 16 GiB BAR2 io 0xe000 size 32 B") != std::string::npos);

    SUBCASE("scanning every bus number also finds buses no bridge leads to") {
        auto all = scan(cs, &summary, ScanOptions{true});
        CHECK(summary.buses == 256);
        CHECK(all->size() == 7);
        CHECK(all->find({4, 0, 0}) != nullptr);
    }
}

TEST_CASE("pci: a bridge loop or an unconfigured bridge does not hang the scan") {
    FakeConfigSpace cs;
    cs.add(kHost, 0x8086, 0x1237, 0x06, 0x00);
    cs.add({0, 1, 0}, 0x8086, 0x244e, 0x06, 0x04, 0x01);
    cs.bridge({0, 1, 0}, 0, 1, 1);
    cs.add({1, 0, 0}, 0x8086, 0x244e, 0x06, 0x04, 0x01);
    cs.bridge({1, 0, 0}, 1, 1, 1);  // points at its own bus
    cs.add({1, 1, 0}, 0x8086, 0x244e, 0x06, 0x04, 0x01);
    cs.bridge({1, 1, 0}, 1, 0, 0);  // unconfigured
    ScanSummary summary;
    auto list = scan(cs, &summary);
    CHECK(summary.buses == 2);
    CHECK(list->size() == 4);
}

TEST_CASE("pci: several host controllers: 00:00.N is the host bridge of bus N") {
    FakeConfigSpace cs;
    cs.add(kHost, 0x8086, 0x0e00, 0x06, 0x00, 0x80);
    cs.add({0, 0, 1}, 0x8086, 0x0e01, 0x06, 0x00, 0x80);
    cs.add({1, 2, 0}, 0x8086, 0x100e, 0x02, 0x00);
    auto list = scan(cs);
    CHECK(list->find({1, 2, 0}) != nullptr);
}

TEST_CASE("pci: BAR sizing turns decode off, restores each BAR and the command register") {
    FakeConfigSpace cs;
    add_qemu_pc(cs);
    std::uint16_t before = cs.at(kNic).command();
    REQUIRE((before & kDecode) == kDecode);
    cs.set_status(kNic, 0x0010);  // capabilities list present; write-one-to-clear bits elsewhere
    auto list = scan(cs);
    for (Address a : {kHost, kIsa, kIde, kAcpi, kVga, kNic}) {
        CHECK(cs.at(a).bar_writes_while_decoding == 0);
        CHECK(cs.at(a).status_writes == 0);
    }
    CHECK(cs.at(kNic).command() == before);
    CHECK(cs.at(kNic).command_writes == 2);  // off, then restored
    CHECK(cs.at(kVga).command_writes == 0);  // decode was already off: nothing to toggle
    CHECK(cs.at(kNic).dword(reg::kBar0) == 0xfebc0000);
    CHECK(cs.at(kNic).dword(reg::kBar0 + 4) == 0xc001);
    CHECK(cs.at(kVga).dword(reg::kBar0) == 0xfd000008);
    CHECK(cs.read16(kNic, reg::kStatus) == 0x0010);
}

TEST_CASE("pci: odd BARs: unimplemented, 16-bit I/O decoder, 64-bit in the last slot, 64-bit below 4 GiB") {
    FakeConfigSpace cs;
    Address a{0, 7, 0};
    cs.add(a, 0x1b36, 0x0001, 0x02, 0x00);
    cs.bar_io(a, 0, 0x1000, 256, true);
    cs.bar_memory64(a, 1, 0xfe000000, 8 << 20);
    cs.at(a).set_dword(reg::kBar0 + 20, 0x4);  // 64-bit type in slot 5: no room for the upper half
    cs.at(a).bar_mask[5] = 0xffff'f000u;
    auto list = scan(cs);
    const Device* d = list->find(a);
    REQUIRE(d != nullptr);
    CHECK(d->bars[0].kind == BarKind::io);
    CHECK(d->bars[0].base == 0x1000);
    CHECK(d->bars[0].size == 256);
    CHECK(d->bars[1].kind == BarKind::memory64);
    CHECK(d->bars[1].base == 0xfe000000);
    CHECK(d->bars[1].size == 8u << 20);
    CHECK_FALSE(d->bars[3].present());
    CHECK_FALSE(d->bars[4].present());
    CHECK(d->bars[5].kind == BarKind::none);
}

TEST_CASE("pci: the list holds 64 functions and counts the rest") {
    FakeConfigSpace cs;
    for (std::uint8_t dev = 0; dev < 10; ++dev) {
        for (std::uint8_t fn = 0; fn < 8; ++fn) cs.add({0, dev, fn}, 0x8086, 0x1000, 0x02, 0x00, 0x80);
    }
    ScanSummary summary;
    auto list = scan(cs, &summary);
    CHECK(list->size() == DeviceList::kCapacity);
    CHECK(summary.functions == 80);
    CHECK(summary.dropped == 16);
    CHECK(list->dropped() == 16);
    CHECK(printed(*list).find("pci: 16 more functions not listed (list holds 64)\n") != std::string::npos);
    // Enumerating again starts from an empty list.
    FakeConfigSpace small;
    small.add(kHost, 0x8086, 0x1237, 0x06, 0x00);
    enumerate(small, *list);
    CHECK(list->size() == 1);
    CHECK(list->dropped() == 0);
}

}  // TEST_SUITE
