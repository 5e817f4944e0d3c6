// Device-model state in checkpoints (hypervisor/devices/device_state.hpp), for the 16550 UART
// (uart16550_model.hpp): registers and the partly assembled output line survive save/restore any
// number of times; a malformed state is refused and leaves the device exactly as it was.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "ckpt_memory.hpp"
#include "ckpt_stream_builder.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/uart16550_model.hpp"

using tandem::Uart16550Model;
using ckpt::Bytes;
using ckpt::err;

namespace {

constexpr std::uint16_t kThr = 0x3f8, kIer = 0x3f9, kFcr = 0x3fa, kIir = 0x3fa, kLcr = 0x3fb, kMcr = 0x3fc,
                        kMsr = 0x3fe, kScratch = 0x3ff;

struct Uart {
    test::StringWriter console;
    Uart16550Model uart{console};

    std::uint32_t in(std::uint16_t port) { return uart.read(port, 1); }
    void out(std::uint16_t port, std::uint32_t value) { uart.write(port, 1, value); }
    void send(const std::string& s) {
        for (char c : s) out(kThr, static_cast<unsigned char>(c));
    }
    Bytes save() const {
        Bytes b(2048);
        tandem::ByteWriter w(b);
        uart.save_state(w);
        REQUIRE_FALSE(w.overflow());
        b.resize(w.size());
        return b;
    }
    // Every register the guest can read, DLAB off and on (restoring LCR afterwards).
    std::vector<std::uint32_t> registers() {
        std::vector<std::uint32_t> r;
        for (std::uint16_t p = 0x3f8; p < 0x400; ++p) r.push_back(in(p));
        std::uint32_t lcr = in(kLcr);
        out(kLcr, lcr | 0x80);
        r.push_back(in(kThr));
        r.push_back(in(kIer));
        out(kLcr, lcr);
        return r;
    }
};

// A UART with every register away from its reset value (it has sent "hello wor").
void configure(Uart& u) {
    u.out(kLcr, 0x80);
    u.out(kThr, 0x03);  // divisor 3: 38400 baud
    u.out(kIer, 0x01);
    u.out(kLcr, 0x1b);
    u.out(kIer, 0x05);
    u.out(kFcr, 0xc7);
    u.out(kMcr, 0x0b);
    u.out(kScratch, 0x5a);
    u.send("hello wor");
}

}  // namespace

TEST_CASE("device state: the UART's identity and encoding") {
    Uart u;
    CHECK(u.uart.state_id() == tandem::kDeviceIdUart0);
    CHECK(u.uart.state_version() == 6);
    CHECK(std::string(u.uart.state_name()) == "uart0");
    // Reset values: divisor 1, no THRE interrupt, nothing received, no overrun. What the guest
    // transmitted has left: no line is held (since version 5).
    CHECK(u.save() == Bytes{0, 0, 0, 0, 1, 0, 0, 0, 0, 0});
    configure(u);
    CHECK(u.save() == Bytes{0x05, 0x1b, 0x0b, 0x5a, 0x03, 0x01, 0xc7, 1, 0, 0});  // THR written: THRE pending
    // A writer too small is marked overflowed, never overrun.
    Bytes small(5, 0xee);
    tandem::ByteWriter w({small.data(), 4});
    u.uart.save_state(w);
    CHECK(w.overflow());
    CHECK(small[4] == 0xee);
}

TEST_CASE("device state: a restored UART is the saved one, and what it sends next is the same") {
    Uart a;
    configure(a);
    Bytes saved = a.save();
    Uart b;
    b.send("something else");
    b.console.clear();
    REQUIRE(err(b.uart.restore_state(6, saved)) == "");
    CHECK(b.console.str().empty());  // restoring emits nothing
    CHECK(b.registers() == a.registers());
    CHECK(b.save() == saved);
    a.console.clear();
    b.send("ld\n");
    a.send("ld\n");
    CHECK(b.console.str() == "ld\n");
    CHECK(a.console.str() == b.console.str());
}

TEST_CASE("device state: the UART restores any number of times, from any state") {
    Uart a;
    configure(a);
    Bytes saved = a.save();
    Uart b;
    for (int i = 0; i < 5; ++i) {
        CAPTURE(i);
        REQUIRE(err(b.uart.restore_state(6, saved)) == "");
        CHECK(b.save() == saved);
        CHECK(b.registers() == a.registers());
        b.out(kScratch, static_cast<std::uint32_t>(i));  // diverge again before the next restore
        b.out(kIer, static_cast<std::uint32_t>(i));
    }
    Uart fresh;
    REQUIRE(err(b.uart.restore_state(6, fresh.save())) == "");
    CHECK(b.registers() == fresh.registers());
}

TEST_CASE("device state: malformed UART states are refused and change nothing") {
    Uart a;
    configure(a);
    Bytes good = a.save();
    auto check_refused = [&](const Bytes& state, std::uint16_t version, const char* message) {
        CAPTURE(state.size());
        Uart u;
        configure(u);
        Bytes before = u.save();
        auto regs = u.registers();
        CHECK(err(u.uart.restore_state(version, state)) == message);
        CHECK(u.save() == before);
        CHECK(u.registers() == regs);
    };
    for (std::size_t n = 0; n < good.size(); ++n) {
        check_refused(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)), 6,
                      n < 7    ? "uart0: truncated state"
                      : n == 7 ? "uart0: bad transmitter flags in state"
                      : n == 8 ? "uart0: bad receive FIFO in state"
                               : "uart0: bad overrun flag in state");
    }
    Bytes longer = good;
    longer.push_back(0);
    check_refused(longer, 6, "uart0: trailing bytes in state");
    Bytes bad_interrupt = good;
    bad_interrupt[7] = 4;  // bits 0 (THRE pending) and 1 (THRE waiting for room) only
    check_refused(bad_interrupt, 6, "uart0: bad transmitter flags in state");
    Bytes bad_fifo = good;
    bad_fifo[8] = 17;  // more than the FIFO holds
    check_refused(bad_fifo, 6, "uart0: bad receive FIFO in state");
    Bytes bad_overrun = good;
    bad_overrun.back() = 2;
    check_refused(bad_overrun, 6, "uart0: bad overrun flag in state");
    // Version 4 held a partial output line, version 5 no THRE waiting for room: a peer that old
    // is refused, not misread.
    check_refused(good, 4, "uart0: unsupported state version");
    check_refused(good, 5, "uart0: unsupported state version");
    check_refused(good, 7, "uart0: unsupported state version");
}

TEST_CASE("device state: the UART's state through a checkpoint into the backup, and back into a UART") {
    Uart a;
    configure(a);
    Bytes saved = a.save();
    ckpt::BackupRig rig(2);
    auto cpu = std::make_unique<tandem::checkpoint::CpuState>();
    for (std::uint64_t epoch = 1; epoch <= 3; ++epoch) {
        ckpt::StreamBuilder s;
        s.begin(epoch, 2 * ckpt::kPage).cpu(ckpt::small_cpu(*cpu, epoch)).device(a.uart.state_id(), a.uart.state_version(), saved).end();
        REQUIRE(err(rig.feed(s.bytes)) == "");
        auto devices = rig.backup->committed_devices();
        REQUIRE(devices.size() == 1);
        Uart b;
        REQUIRE(err(b.uart.restore_state(devices[0].version, {devices[0].bytes, devices[0].size})) == "");
        CHECK(b.registers() == a.registers());
        b.send("ld\n");
        CHECK(b.console.str() == "ld\n");
    }
    CHECK(a.in(kIir) == 0xc1);  // FIFOs on, no interrupt: the register set really was non-default
    CHECK(a.in(kMsr) == 0xb0);
}

// The transmitter-empty interrupt as Linux's 8250 driver uses it (PC16550D IIR, IER, MCR.OUT2).
TEST_CASE("UART: THRE interrupt raised on ETBEI and after each byte, cleared by IIR, gated by OUT2") {
    struct Lines final : tandem::IrqLines {
        std::vector<std::pair<unsigned, bool>> calls;
        void set_irq(unsigned pin, bool asserted) override { calls.emplace_back(pin, asserted); }
    } lines;
    Uart u;
    u.uart.set_interrupt_line(&lines);
    CHECK(u.in(kIir) == 0x01);          // nothing pending
    u.out(kMcr, 0x08);                  // OUT2: interrupts reach the PIC/IOAPIC
    u.out(kIer, 0x02);                  // ETBEI with THR empty: THRE at once
    REQUIRE(lines.calls.size() == 1);
    CHECK(lines.calls.back() == std::pair<unsigned, bool>{4, true});
    CHECK(u.in(kIir) == 0x02);          // THRE, and reading it clears it
    CHECK(lines.calls.back() == std::pair<unsigned, bool>{4, false});
    CHECK(u.in(kIir) == 0x01);
    u.out(kThr, 'a');                   // the byte leaves at once: THRE again
    CHECK(lines.calls.back() == std::pair<unsigned, bool>{4, true});
    u.out(kMcr, 0x00);                  // OUT2 off: the line drops, the interrupt stays pending
    CHECK(lines.calls.back() == std::pair<unsigned, bool>{4, false});
    CHECK(u.in(kIir) == 0x02);
    u.out(kIer, 0x00);
    u.out(kThr, 'b');
    CHECK(u.in(kIir) == 0x01);          // ETBEI off: pending THRE is not reported
    // A restored UART drives its line as the saved one would.
    u.out(kMcr, 0x08);
    u.out(kIer, 0x02);
    Bytes saved = u.save();
    Lines other;
    Uart v;
    v.uart.set_interrupt_line(&other);
    REQUIRE(err(v.uart.restore_state(6, saved)) == "");
    REQUIRE_FALSE(other.calls.empty());
    CHECK(other.calls.back() == std::pair<unsigned, bool>{4, true});
}
