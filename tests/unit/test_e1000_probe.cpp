// Choosing and starting drivers by PCI id (nic-drivers/registry.hpp), NIC selection by the
// command line's selectors, the whole path from enumeration to traffic, and two fake NICs
// wired back to back exchanging frames through nothing but the narrow Nic interface.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "fake_pci.hpp"
#include "helpers.hpp"
#include "nic-drivers/pci/enumerate.hpp"
#include "nic-drivers/registry.hpp"
#include "nic_test_rig.hpp"

using namespace tandem;
using namespace tandem::nic;
using test::FakeConfigSpace;
using test::kMacA;
using test::kMacB;
using test::make_frame;
using test::Octets;

namespace {

constexpr pci::Address kNicAt{0, 3, 0};

void add_e1000(FakeConfigSpace& cs, pci::Address at, std::uint16_t device = 0x100e) {
    cs.add(at, 0x8086, device, 0x02, 0x00, 0x00, 0, 0x03);
    cs.bar_memory32(at, 0, 0xfebc0000, 128 << 10);
    cs.bar_io(at, 1, 0xc000, 64);
    cs.set_interrupt(at, 11, 1);
}

// A configuration space whose command register ignores writes (a device that cannot master).
class StubbornConfig final : public pci::ConfigSpace {
public:
    explicit StubbornConfig(FakeConfigSpace& inner) : inner_(inner) {}
    std::uint16_t limit() const override { return inner_.limit(); }
    std::uint32_t read(pci::Address a, std::uint16_t o, unsigned w) override { return inner_.read(a, o, w); }
    void write(pci::Address a, std::uint16_t o, unsigned w, std::uint32_t v) override {
        if (o != pci::reg::kCommand) inner_.write(a, o, w, v);
    }

private:
    FakeConfigSpace& inner_;
};

struct Machine {
    FakeConfigSpace cs;
    test::FakeDmaMemory dma;
    test::FakeDelay delay;
    test::FakeE1000 device{dma, kMacA};
    pci::DeviceList list;
    NicSlot slot;
};

}  // namespace

TEST_SUITE("nic") {

TEST_CASE("nic: the driver table matches e1000 parts by vendor:device") {
    const NicDriver* d = match_nic_driver(0x8086, 0x100e);
    REQUIRE(d != nullptr);
    CHECK(std::string(d->driver) == "e1000");
    CHECK(std::string(d->model) == "82540EM");
    CHECK(d->register_bar == 0);
    CHECK(match_nic_driver(0x8086, 0x100f) != nullptr);
    CHECK(match_nic_driver(0x8086, 0x10d3) == nullptr);  // 82574L: e1000e, not this driver
    CHECK(match_nic_driver(0x1af4, 0x1000) == nullptr);
    CHECK(match_nic_driver(0x100e, 0x8086) == nullptr);
    for (const NicDriver& entry : nic_drivers()) CHECK(match_nic_driver(entry.vendor, entry.device) == &entry);
}

TEST_CASE("nic: e1000 from enumeration to traffic: match, probe, command register, info") {
    auto m = std::make_unique<Machine>();
    add_e1000(m->cs, kNicAt);
    m->cs.add({0, 0, 0}, 0x8086, 0x1237, 0x06, 0x00);
    pci::enumerate(m->cs, m->list);
    const pci::Device* dev = m->list.find(0x8086, 0x100e);
    REQUIRE(dev != nullptr);
    const NicDriver* driver = match_nic_driver(dev->vendor, dev->device);
    REQUIRE(driver != nullptr);
    CHECK(dev->bars[driver->register_bar].size == 128 * 1024);
    auto nic = probe_nic(*driver, NicResources{m->cs, *dev, m->device, m->dma, m->delay, {}}, m->slot);
    REQUIRE(nic.ok());
    CHECK(*nic == m->slot.nic());
    std::uint16_t cmd = m->cs.at(kNicAt).command();
    CHECK((cmd & pci::command::kMemorySpace) != 0);
    CHECK((cmd & pci::command::kBusMaster) != 0);
    CHECK((cmd & pci::command::kInterruptDisable) != 0);
    NicInfo info = (*nic)->info();
    CHECK(info.on_pci);
    CHECK(info.pci == kNicAt);
    test::StringWriter w;
    print_info(w, info, (*nic)->link_up());
    CHECK(w.str() == "nic: e1000 82540EM at 00:03.0 mac 52:54:00:12:34:56 mtu 1500 link up rx 256 tx 256\n");

    Octets f = make_frame(kMacB, kMacA, 300);
    Frame view{f};
    CHECK((*nic)->transmit({&view, 1}) == 1);
    CHECK(m->device.wire().front() == f);
    w.clear();
    print_counters(w, (*nic)->counters());
    CHECK(w.str() == "nic: tx 1 frames 300 B (0 dropped, 0 errors) rx 0 frames 0 B (0 dropped, 0 errors, 0 missed)\n");
}

TEST_CASE("nic: probe refuses what it cannot drive, and reports why") {
    auto m = std::make_unique<Machine>();
    const NicDriver& driver = *match_nic_driver(0x8086, 0x100e);

    SUBCASE("BAR0 is an I/O BAR") {
        m->cs.add(kNicAt, 0x8086, 0x100e, 0x02, 0x00);
        m->cs.bar_io(kNicAt, 0, 0xc000, 64);
        pci::enumerate(m->cs, m->list);
        auto r =
            probe_nic(driver, NicResources{m->cs, *m->list.find(kNicAt), m->device, m->dma, m->delay, {}}, m->slot);
        REQUIRE_FALSE(r.ok());
        CHECK(test::message(r.error()) == "e1000: BAR0 is not a 128 KiB memory BAR");
    }
    SUBCASE("the command register does not take bus mastering") {
        add_e1000(m->cs, kNicAt);
        pci::enumerate(m->cs, m->list);
        StubbornConfig stubborn(m->cs);
        auto r =
            probe_nic(driver, NicResources{stubborn, *m->list.find(kNicAt), m->device, m->dma, m->delay, {}}, m->slot);
        REQUIRE_FALSE(r.ok());
        CHECK(test::message(r.error()) == "e1000: PCI command register refused memory decode or bus mastering");
        CHECK(m->device.resets() == 0);  // never touched the device
    }
    SUBCASE("the device fails to start: the slot stays empty") {
        add_e1000(m->cs, kNicAt);
        pci::enumerate(m->cs, m->list);
        m->device.knobs.reset_stuck = true;
        auto r =
            probe_nic(driver, NicResources{m->cs, *m->list.find(kNicAt), m->device, m->dma, m->delay, {}}, m->slot);
        REQUIRE_FALSE(r.ok());
        CHECK(m->slot.nic() == nullptr);
    }
    SUBCASE("a bridge has no BAR0 to speak of") {
        m->cs.add(kNicAt, 0x8086, 0x100e, 0x02, 0x00, 0x01);
        pci::enumerate(m->cs, m->list);
        pci::Device d = *m->list.find(kNicAt);
        d.bar_count = 0;
        auto r = probe_nic(driver, NicResources{m->cs, d, m->device, m->dma, m->delay, {}}, m->slot);
        REQUIRE_FALSE(r.ok());
        CHECK(test::message(r.error()) == "e1000: device has no BAR0");
    }
}

TEST_CASE("nic: VolatileMmioWindow accesses aligned dwords inside the window and refuses the rest") {
    std::uint32_t regs[4] = {1, 2, 3, 4};
    VolatileMmioWindow w(regs, sizeof regs);
    CHECK(w.size() == 16);
    CHECK(w.read32(4) == 2);
    w.write32(12, 0xabcd);
    CHECK(regs[3] == 0xabcd);
    CHECK(w.read32(16) == 0xffff'ffffu);
    CHECK(w.read32(2) == 0xffff'ffffu);
    CHECK(w.read32(0xffff'fffcu) == 0xffff'ffffu);
    w.write32(16, 7);
    w.write32(6, 7);
    CHECK(regs[0] == 1);
    CHECK(regs[1] == 2);
    CHECK(regs[2] == 3);
    VolatileMmioWindow odd(regs, 14);  // a size that is not a whole number of dwords
    CHECK(odd.read32(8) == 3);
    CHECK(odd.read32(12) == 0xffff'ffffu);
}

TEST_CASE("nic: link_nic= and client_nic= selectors match by PCI address or by MAC") {
    MacAddress mac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
    NicSelector none;
    CHECK_FALSE(selector_matches(none, kNicAt, &mac));
    NicSelector by_pci;
    by_pci.kind = NicSelector::Kind::pci;
    by_pci.device = 3;
    CHECK(selector_matches(by_pci, kNicAt, nullptr));
    CHECK_FALSE(selector_matches(by_pci, pci::Address{0, 3, 1}, nullptr));
    CHECK_FALSE(selector_matches(by_pci, pci::Address{1, 3, 0}, nullptr));
    NicSelector by_mac;
    by_mac.kind = NicSelector::Kind::mac;
    by_mac.mac = mac;
    CHECK(selector_matches(by_mac, pci::Address{9, 9, 0}, &mac));
    CHECK_FALSE(selector_matches(by_mac, kNicAt, nullptr));  // not probed yet: unknown
    MacAddress other = mac;
    other.bytes[5] = 0x57;
    CHECK_FALSE(selector_matches(by_mac, kNicAt, &other));
}

TEST_CASE("nic: two e1000s back to back exchange thousands of frames both ways through the Nic interface") {
    test::Rig a(kMacA);
    test::Rig b(kMacB);
    a.device.connect(b.device);
    b.device.connect(a.device);
    REQUIRE(a.nic.start(NicOptions{32, 16, false}).ok());
    REQUIRE(b.nic.start(NicOptions{16, 32, false}).ok());
    Nic& left = a.nic;
    Nic& right = b.nic;
    constexpr std::uint32_t kEach = 3000;
    std::uint32_t sent_ab = 0, sent_ba = 0, got_ab = 0, got_ba = 0;
    std::vector<Octets> pending_ab, pending_ba;
    for (int round = 0; round < 100000 && (got_ab < kEach || got_ba < kEach); ++round) {
        // Offer a batch each way; whatever the ring does not take is offered again next round.
        while (pending_ab.size() < 9 && sent_ab + pending_ab.size() < kEach) {
            auto n = static_cast<std::uint32_t>(sent_ab + pending_ab.size());
            pending_ab.push_back(make_frame(kMacB, kMacA, 60 + n * 31 % 1458, n));
        }
        while (pending_ba.size() < 5 && sent_ba + pending_ba.size() < kEach) {
            auto n = static_cast<std::uint32_t>(sent_ba + pending_ba.size());
            pending_ba.push_back(make_frame(kMacA, kMacB, 60 + n * 17 % 1458, n + 1'000'000));
        }
        std::size_t t = test::send(left, pending_ab);
        pending_ab.erase(pending_ab.begin(), pending_ab.begin() + static_cast<long>(t));
        sent_ab += static_cast<std::uint32_t>(t);
        t = test::send(right, pending_ba);
        pending_ba.erase(pending_ba.begin(), pending_ba.begin() + static_cast<long>(t));
        sent_ba += static_cast<std::uint32_t>(t);

        receive_with(right, 1 + static_cast<std::size_t>(round) % 13, [&](Frame f) {
            REQUIRE(Octets(f.begin(), f.end()) == make_frame(kMacB, kMacA, 60 + got_ab * 31 % 1458, got_ab));
            ++got_ab;
        });
        receive_with(left, 1 + static_cast<std::size_t>(round) % 17, [&](Frame f) {
            REQUIRE(Octets(f.begin(), f.end()) ==
                    make_frame(kMacA, kMacB, 60 + got_ba * 17 % 1458, got_ba + 1'000'000));
            ++got_ba;
        });
    }
    CHECK(got_ab == kEach);
    CHECK(got_ba == kEach);
    CHECK(a.device.wire().empty());  // everything went to the peer
    NicCounters ca = left.counters(), cb = right.counters();
    CHECK(ca.tx_frames == kEach);
    CHECK(cb.rx_frames == kEach);
    CHECK(cb.tx_frames == kEach);
    CHECK(ca.rx_frames == kEach);
    CHECK(ca.rx_missed + cb.rx_missed == 0);
    CHECK(ca.tx_bytes == cb.rx_bytes);
    CHECK(cb.tx_bytes == ca.rx_bytes);
    CHECK(left.health().ok());
    CHECK(right.health().ok());
}

}  // TEST_SUITE
