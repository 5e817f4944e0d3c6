// The legacy 8259A pair (hypervisor/devices/pic8259_model.hpp): Linux's probe and
// initialisation sequences, the masks it writes and reads back, ICW/OCW decoding, the ELCR, the
// one-time report when the guest unmasks an IRQ it would need ExtINT for, and the state.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "device_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/pic8259_model.hpp"

using tandem::Pic8259Model;
using test::status_message;

namespace {

struct Pic {
    test::StringWriter log;
    Pic8259Model pic{log};
    std::uint32_t in(std::uint16_t port) { return pic.read(port, 1); }
    void out(std::uint16_t port, std::uint32_t value) { pic.write(port, 1, value); }
    std::vector<std::uint8_t> save() const { return test::saved_state(pic); }
    // Linux's init_8259A(auto_eoi): mask all, ICW1-ICW4 on both, then the cached masks.
    void linux_init(std::uint8_t master_mask, std::uint8_t slave_mask) {
        out(0x21, 0xff);
        out(0x20, 0x11);
        out(0x21, 0x30);
        out(0x21, 0x04);
        out(0x21, 0x01);
        out(0xa0, 0x11);
        out(0xa1, 0x38);
        out(0xa1, 0x02);
        out(0xa1, 0x01);
        out(0x21, master_mask);
        out(0xa1, slave_mask);
    }
};

}  // namespace

TEST_SUITE("pic8259") {

TEST_CASE("after reset: initialised as a BIOS leaves it, everything masked, nothing pending") {
    Pic p;
    CHECK(p.in(0x21) == 0xff);
    CHECK(p.in(0xa1) == 0xff);
    CHECK(p.in(0x20) == 0);
    CHECK(p.in(0xa0) == 0);
    CHECK(p.pic.masks() == 0xffff);
    CHECK(p.pic.vector_base(0) == 0x08);
    CHECK(p.pic.vector_base(1) == 0x70);
    CHECK(p.in(0x4d0) == 0);
    CHECK(p.in(0x4d1) == 0);
}

TEST_CASE("Linux's probe: a mask written is read back, and the cascade input alone is not reported") {
    Pic p;
    p.out(0xa1, 0xff);
    p.out(0x21, 0xfb);
    CHECK(p.in(0x21) == 0xfb);
    CHECK(p.log.str().empty());
    CHECK(p.pic.unmask_requests() == 0);
}

TEST_CASE("Linux's initialisation sequence: vector bases and masks recorded, nothing reported") {
    Pic p;
    p.linux_init(0xfb, 0xff);
    CHECK_FALSE(p.pic.initialising(0));
    CHECK_FALSE(p.pic.initialising(1));
    CHECK(p.pic.vector_base(0) == 0x30);
    CHECK(p.pic.vector_base(1) == 0x38);
    CHECK(p.pic.masks() == 0xfffb);
    CHECK(p.log.str().empty());
}

TEST_CASE("ICW1 clears the mask and starts the sequence; single mode and no ICW4 shorten it") {
    Pic p;
    p.out(0x20, 0x13);  // ICW1: edge, single, ICW4 needed
    CHECK(p.in(0x21) == 0);
    CHECK(p.pic.initialising(0));
    p.out(0x21, 0x47);  // ICW2: the low three bits are not part of the base
    CHECK(p.pic.vector_base(0) == 0x40);
    CHECK(p.pic.initialising(0));  // single: no ICW3, straight to ICW4
    p.out(0x21, 0x03);
    CHECK_FALSE(p.pic.initialising(0));
    p.out(0x21, 0xfe);  // now an OCW1
    CHECK(p.in(0x21) == 0xfe);
    p.out(0xa0, 0x10);  // cascade, no ICW4: ICW2, ICW3, done
    p.out(0xa1, 0x70);
    p.out(0xa1, 0x02);
    CHECK_FALSE(p.pic.initialising(1));
    p.out(0xa0, 0x12);  // single, no ICW4: ICW2 only
    p.out(0xa1, 0x78);
    CHECK_FALSE(p.pic.initialising(1));
    CHECK(p.pic.vector_base(1) == 0x78);
}

TEST_CASE("OCW2 and OCW3: EOIs, register selection and poll change nothing visible") {
    Pic p;
    p.linux_init(0xfb, 0xff);
    auto before = p.save();
    p.out(0x20, 0x20);  // non-specific EOI
    p.out(0x20, 0x60);  // specific EOI, IR0
    p.out(0xa0, 0x20);
    CHECK(p.save() == before);
    p.out(0x20, 0x0b);  // OCW3: read ISR
    CHECK(p.in(0x20) == 0);
    p.out(0x20, 0x0a);  // read IRR
    CHECK(p.in(0x20) == 0);
    p.out(0x20, 0x0c);  // poll: no interrupt (bit 7 clear)
    CHECK(p.in(0x20) == 0);
    p.out(0x20, 0x68);  // special mask mode on
    p.out(0x20, 0x48);  // and off
    CHECK(p.in(0x21) == 0xfb);
}

TEST_CASE("unmasking an IRQ that needs ExtINT is reported once, and delivers nothing") {
    Pic p;
    p.linux_init(0xfb, 0xff);
    p.out(0x21, 0xfa);  // IRQ0 (Linux's PIT tick before the IOAPIC takes over)
    CHECK(p.log.str() ==
          "vm: pic: the guest unmasked IRQ 0 in the legacy PIC; tandem delivers interrupts only through the IOAPIC (no "
          "ExtINT), so the PIC delivers nothing\n");
    p.out(0x21, 0xfb);
    p.out(0xa1, 0xef);  // IRQ 12
    CHECK(p.pic.unmask_requests() == 2);
    CHECK(p.log.str().find("IRQ 12") == std::string::npos);
    Pic q;
    q.out(0xa1, 0x7f);
    CHECK(q.log.str().find("IRQ 15") != std::string::npos);
}

TEST_CASE("ELCR: IRQ 0, 1, 2, 8 and 13 stay edge-triggered") {
    Pic p;
    p.out(0x4d0, 0xff);
    p.out(0x4d1, 0xff);
    CHECK(p.in(0x4d0) == 0xf8);
    CHECK(p.in(0x4d1) == 0xde);
    p.out(0x4d1, 0x0c);  // Linux's elcr_set_level_irq for IRQ 10 and 11
    CHECK(p.in(0x4d1) == 0x0c);
}

TEST_CASE("wider accesses are taken byte by byte") {
    Pic p;
    p.pic.write(0x20, 2, 0xfe00);  // 0x20 <- 0x00 (OCW2), 0x21 <- 0xfe
    CHECK(p.in(0x21) == 0xfe);
    CHECK(p.pic.read(0x20, 2) == 0xfe00);
    p.pic.write(0x4d0, 2, 0x0cf8);
    CHECK(p.pic.read(0x4d0, 2) == 0x0cf8);
    CHECK(p.pic.read(0x21, 2) == 0xfffe);  // 0x22 is not the PIC's: reads as absent
}

TEST_CASE("device state: round trip, restore mid-initialisation, malformed states") {
    Pic a;
    CHECK(a.pic.state_id() == tandem::kDeviceIdPic);
    CHECK(a.pic.state_version() == 1);
    CHECK(std::string(a.pic.state_name()) == "pic");
    a.linux_init(0xfb, 0xff);
    a.out(0x4d1, 0x0c);
    a.out(0xa0, 0x11);  // slave in the middle of initialisation
    a.out(0xa1, 0x28);
    auto saved = a.save();
    CHECK(saved.size() == 16);
    for (int round = 0; round < 3; ++round) {
        Pic b;
        b.out(0x21, 0x00);
        REQUIRE(status_message(b.pic.restore_state(1, saved)) == "");
        CHECK(b.save() == saved);
        CHECK(b.pic.initialising(1));
        b.out(0xa1, 0x02);  // ICW3 and ICW4 finish the sequence as they would have in a
        b.out(0xa1, 0x01);
        CHECK_FALSE(b.pic.initialising(1));
        CHECK(b.pic.vector_base(1) == 0x28);
        CHECK(b.in(0x21) == 0xfb);
        CHECK(b.in(0x4d1) == 0x0c);
    }
    Pic target;
    target.linux_init(0xfe, 0xfe);
    test::check_malformed_states_refused(target.pic, saved, 1);
    auto refused = [&](std::size_t offset, std::uint8_t byte, const char* message) {
        CAPTURE(offset);
        auto bad = saved;
        bad[offset] = byte;
        Pic t;
        auto before = t.save();
        CHECK(status_message(t.pic.restore_state(1, bad)) == message);
        CHECK(t.save() == before);
    };
    // Per chip: imr, init step, icw1-4, flags, elcr.
    refused(1, 1, "pic: bad initialisation step in state");
    refused(9, 5, "pic: bad initialisation step in state");
    refused(2, 0x01, "pic: bad register in state");  // ICW1 without bit 4
    refused(3, 0x31, "pic: bad register in state");  // vector base with low bits
    refused(6, 0x08, "pic: bad register in state");  // unknown flag
    refused(7, 0x01, "pic: bad register in state");  // ELCR IRQ 0 level
    refused(15, 0x01, "pic: bad register in state"); // ELCR IRQ 8 level
}

}  // TEST_SUITE
