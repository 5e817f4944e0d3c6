// E1000 bring-up against the fake 82540EM: reset, MAC address, filters, link, ring registers,
// options, restart and DMA memory handling (nic-drivers/e1000/e1000.cpp, mac_address.cpp).
#include <doctest/doctest.h>

#include <string>

#include "helpers.hpp"
#include "nic_test_rig.hpp"

using namespace tandem;
using namespace tandem::nic;
using namespace tandem::nic::e1000;
using test::FakeDmaMemory;
using test::kMacA;
using test::kMacB;
using test::Rig;

namespace {

bool same(const MacAddress& a, const test::Mac& b) {
    for (unsigned i = 0; i < 6; ++i) {
        if (a.bytes[i] != b[i]) return false;
    }
    return true;
}

// A window where nothing answers: what an unmapped BAR or a removed device looks like.
class AbsentWindow final : public MmioWindow {
public:
    explicit AbsentWindow(std::uint32_t size) : size_(size) {}
    std::uint32_t size() const override { return size_; }
    std::uint32_t read32(std::uint32_t) override { return 0xffff'ffffu; }
    void write32(std::uint32_t, std::uint32_t) override {}

private:
    std::uint32_t size_;
};

}  // namespace

TEST_SUITE("e1000") {

TEST_CASE("e1000: start resets, reads the EEPROM MAC, clears filters, asks for link and sets up both rings") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    test::FakeE1000& dev = rig.device;
    CHECK(dev.resets() == 1);
    CHECK(rig.nic.mac_source() == MacSource::eeprom);
    NicInfo info = rig.nic.info();
    CHECK(same(info.mac, kMacA));
    CHECK(info.mtu == 1500);
    CHECK(info.max_frame == 1518);
    CHECK(info.rx_ring == 256);
    CHECK(info.tx_ring == 256);
    CHECK(std::string(info.driver) == "e1000");
    CHECK(std::string(info.model) == "82540EM");
    CHECK_FALSE(info.on_pci);

    // Filters: our address valid in entry 0, every other entry and the multicast table cleared.
    CHECK(dev.reg(kRal0) == 0x12005452u);
    CHECK(dev.reg(kRah0) == (kRahAddressValid | 0x5634u));
    for (unsigned i = 1; i < kReceiveAddresses; ++i) CHECK(dev.reg(Register{kRah0.offset + 8 * i}) == 0);
    for (unsigned i = 0; i < kMtaEntries; ++i) CHECK(dev.reg(mta(i)) == 0);

    // Polled: every interrupt masked, none ever unmasked.
    CHECK(dev.reg(kIms) == 0);

    // Link (§14.3): SLU and ASDE, no resets or forcing left set.
    std::uint32_t c = dev.reg(kCtrl);
    CHECK((c & (ctrl::kSlu | ctrl::kAsde)) == (ctrl::kSlu | ctrl::kAsde));
    CHECK((c & (ctrl::kRst | ctrl::kLrst | ctrl::kPhyRst | ctrl::kFrcspd | ctrl::kFrcdplx | ctrl::kVme)) == 0);
    CHECK(rig.nic.link_up());

    // Receive: 2 KiB buffers, broadcast accepted, CRC stripped, not promiscuous.
    CHECK(dev.reg(kRctl) == (rctl::kEn | rctl::kBam | rctl::kSecrc));
    CHECK(dev.reg(kRdbah) == 1);  // the fake's DMA memory lies above 4 GiB
    CHECK(dev.reg(kRdbal) % 4096 == 0);
    CHECK(dev.reg(kRdlen) == 256 * 16);
    CHECK(dev.reg(kRdh) == 0);
    CHECK(dev.reg(kRdt) == 255);
    // Transmit: pad short packets, collision threshold 15, full-duplex collision distance.
    CHECK(dev.reg(kTctl) == (tctl::kEn | tctl::kPsp | 0x0fu << 4 | 0x40u << 12));
    CHECK(dev.reg(kTipg) == 0x0060200a);
    CHECK(dev.reg(kTdbah) == 1);
    CHECK(dev.reg(kTdlen) == 256 * 16);
    CHECK(dev.reg(kTdh) == 0);
    CHECK(dev.reg(kTdt) == 0);

    CHECK(rig.nic.health().ok());
    CHECK(rig.dma.live_allocations() == 4);
    CHECK(rig.delay.now_us >= 15'000);  // quiesce before reset, EEPROM reload after
    CHECK(rig.delay.now_us < 100'000);

    test::StringWriter w;
    print_info(w, info, rig.nic.link_up());
    CHECK(w.str() == "nic: e1000 82540EM mac 52:54:00:12:34:56 mtu 1500 link up rx 256 tx 256\n");
}

TEST_CASE("e1000: before start the NIC reports it and does nothing") {
    Rig rig;
    CHECK_FALSE(rig.nic.health().ok());
    CHECK(test::message(rig.nic.health().error()) == "e1000: not started");
    test::CollectSink sink;
    CHECK(rig.nic.receive(sink, 16) == 0);
    CHECK(test::send(rig.nic, test::make_frame(kMacB, kMacA, 60)) == 0);
    CHECK(rig.nic.tx_pending() == 0);
    CHECK(rig.device.tdt_writes() == 0);
}

TEST_CASE("e1000: MAC from RAL0/RAH0 when the EEPROM does not answer or holds no unicast address") {
    SUBCASE("EERD never completes, the autoloaded receive address is used") {
        Rig rig;
        rig.device.knobs.eeprom_answers = false;
        REQUIRE(rig.nic.start().ok());
        CHECK(rig.nic.mac_source() == MacSource::receive_address);
        CHECK(same(rig.nic.info().mac, kMacA));
        CHECK(rig.delay.now_us < 1'000'000);  // the EERD wait is bounded
    }
    SUBCASE("blank EEPROM (all zeros), firmware-programmed receive address") {
        Rig rig;
        rig.device.set_eeprom_mac({0, 0, 0, 0, 0, 0});
        rig.device.knobs.ra_after_reset = kMacB;
        REQUIRE(rig.nic.start().ok());
        CHECK(rig.nic.mac_source() == MacSource::receive_address);
        CHECK(same(rig.nic.info().mac, kMacB));
    }
    SUBCASE("a group address in the EEPROM is not a station address") {
        Rig rig;
        rig.device.set_eeprom_mac({0x01, 0x00, 0x5e, 0x00, 0x00, 0x01});
        rig.device.knobs.ra_after_reset = kMacB;
        REQUIRE(rig.nic.start().ok());
        CHECK(same(rig.nic.info().mac, kMacB));
    }
}

TEST_CASE("e1000: no valid MAC anywhere fails start with a clear error") {
    Rig rig;
    rig.device.knobs.eeprom_answers = false;
    rig.device.knobs.autoload_ra = false;
    Status s = rig.nic.start();
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == "e1000: no valid MAC address (EEPROM does not answer, RAL0/RAH0 empty)");
    CHECK_FALSE(rig.nic.health().ok());

    Rig blank;
    blank.device.set_eeprom_mac({0, 0, 0, 0, 0, 0});
    Status t = blank.nic.start();
    REQUIRE_FALSE(t.ok());
    CHECK(test::message(t.error()) == "e1000: no valid MAC address (EEPROM holds none, RAL0/RAH0 empty)");
}

TEST_CASE("e1000: valid_unicast and read_eeprom_word") {
    CHECK(valid_unicast(MacAddress{{0x52, 0x54, 0, 1, 2, 3}}));
    CHECK_FALSE(valid_unicast(MacAddress{{0, 0, 0, 0, 0, 0}}));
    CHECK_FALSE(valid_unicast(MacAddress{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}));
    CHECK_FALSE(valid_unicast(MacAddress{{0x33, 0x33, 0, 0, 0, 1}}));
    Rig rig;
    std::uint16_t word = 0;
    REQUIRE(read_eeprom_word(rig.device, rig.delay, 1, word));
    CHECK(word == 0x1200);  // address bytes 2 and 3, low byte first
    REQUIRE(read_eeprom_word(rig.device, rig.delay, 0x3f, word));
    std::uint16_t sum = 0;
    for (std::uint8_t w = 0; w < 0x40; ++w) {
        std::uint16_t v = 0;
        REQUIRE(read_eeprom_word(rig.device, rig.delay, w, v));
        sum = static_cast<std::uint16_t>(sum + v);
    }
    CHECK(sum == 0xbaba);  // the fake's EEPROM is well-formed (checksum word, §5.6)
}

TEST_CASE("e1000: no link partner: start succeeds, link is down") {
    Rig rig;
    rig.device.knobs.link_partner = false;
    REQUIRE(rig.nic.start().ok());
    CHECK_FALSE(rig.nic.link_up());
    test::StringWriter w;
    print_info(w, rig.nic.info(), rig.nic.link_up());
    CHECK(w.str().find("link down") != std::string::npos);
}

TEST_CASE("e1000: a reset that never completes, or a device that is not there, is reported") {
    Rig rig;
    rig.device.knobs.reset_stuck = true;
    Status s = rig.nic.start();
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == "e1000: reset did not complete (CTRL.RST stays set)");
    CHECK(rig.delay.now_us < 100'000);

    FakeDmaMemory dma;
    test::FakeDelay delay;
    AbsentWindow absent(128 * 1024);
    E1000 nic(absent, dma, delay);
    Status t = nic.start();
    REQUIRE_FALSE(t.ok());
    CHECK(test::message(t.error()) == "e1000: registers read all ones (BAR not mapped, or no device)");
    CHECK(dma.allocations() == 0);

    AbsentWindow small(4096);
    E1000 tiny(small, dma, delay);
    Status u = tiny.start();
    REQUIRE_FALSE(u.ok());
    CHECK(test::message(u.error()) == "e1000: register window smaller than 128 KiB");
}

TEST_CASE("e1000: ring sizes are checked; options reach the device") {
    Rig rig;
    CHECK_FALSE(rig.nic.start(NicOptions{12, 256, false}).ok());
    CHECK_FALSE(rig.nic.start(NicOptions{256, 0, false}).ok());
    CHECK_FALSE(rig.nic.start(NicOptions{256, 4104, false}).ok());
    CHECK(rig.device.resets() == 0);
    REQUIRE(rig.nic.start(NicOptions{8, 16, true}).ok());
    CHECK(rig.device.reg(kRdlen) == 128);
    CHECK(rig.device.reg(kRdt) == 7);
    CHECK(rig.device.reg(kTdlen) == 256);
    CHECK((rig.device.reg(kRctl) & (rctl::kUpe | rctl::kMpe)) == (rctl::kUpe | rctl::kMpe));
    CHECK(rig.nic.info().rx_ring == 8);
    CHECK(rig.nic.info().tx_ring == 16);
}

TEST_CASE("e1000: restart reuses DMA memory; new ring sizes reallocate; stop releases") {
    Rig rig;
    REQUIRE(rig.nic.start().ok());
    REQUIRE(rig.nic.start().ok());
    CHECK(rig.dma.allocations() == 4);
    CHECK(rig.device.resets() == 2);
    REQUIRE(rig.nic.start(NicOptions{64, 64, false}).ok());
    CHECK(rig.dma.allocations() == 8);
    CHECK(rig.dma.live_allocations() == 4);
    rig.nic.stop();
    CHECK(rig.dma.live_allocations() == 0);
    CHECK((rig.device.reg(kRctl) & rctl::kEn) == 0);
    CHECK((rig.device.reg(kTctl) & tctl::kEn) == 0);
    CHECK_FALSE(rig.nic.health().ok());
    CHECK(test::send(rig.nic, test::make_frame(kMacB, kMacA, 60)) == 0);
}

TEST_CASE("e1000: DMA allocation failures leave nothing allocated; a misaligned allocator is refused") {
    Rig rig;
    rig.dma.fail_allocations_after(2);
    Status s = rig.nic.start();
    REQUIRE_FALSE(s.ok());
    CHECK(test::message(s.error()) == "fake dma: out of memory");
    CHECK(rig.dma.live_allocations() == 0);

    Rig odd;
    odd.dma.misalign(8);
    Status t = odd.nic.start();
    REQUIRE_FALSE(t.ok());
    CHECK(test::message(t.error()) == "e1000: DMA memory too small or misaligned");
    CHECK(odd.dma.live_allocations() == 0);
}

}  // TEST_SUITE
