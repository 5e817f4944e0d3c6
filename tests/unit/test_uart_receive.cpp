// The receive side of the guest's 16550 (hypervisor/devices/uart16550_model.hpp,
// uart_receive_fifo.hpp): typed input read through RBR as LSR.DR shows it, the received-data
// interrupt above THRE in IIR, loopback into the receiver, FIFO reset, and the FIFO carried by
// the model's saved state.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "console_fakes.hpp"
#include "device_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/devices/uart16550_model.hpp"
#include "hypervisor/util/byte_stream.hpp"

using tandem::Uart16550Model;
using tandem::UartReceiveFifo;

namespace {

constexpr std::uint16_t kRbr = 0x3f8, kIer = 0x3f9, kIir = 0x3fa, kFcr = 0x3fa, kLcr = 0x3fb, kMcr = 0x3fc,
                        kLsr = 0x3fd;

struct Uart {
    test::StringWriter console;
    test::RecordingIrqLines lines;
    Uart16550Model uart{console};
    Uart() { uart.set_interrupt_line(&lines); }

    std::uint32_t in(std::uint16_t port) { return uart.read(port, 1); }
    void out(std::uint16_t port, std::uint32_t value) { uart.write(port, 1, value); }
    void type(const std::string& s) {
        for (char c : s) {
            REQUIRE(uart.input_room() != 0);
            uart.accept_input(static_cast<std::uint8_t>(c));
        }
    }
    // What a driver reads while LSR says data is ready.
    std::string read_all() {
        std::string got;
        while ((in(kLsr) & 0x01) != 0 && got.size() < 100) got += static_cast<char>(in(kRbr));
        return got;
    }
    std::vector<std::uint8_t> saved() {
        std::vector<std::uint8_t> bytes(4096);
        tandem::ByteWriter w(bytes);
        uart.save_state(w);
        REQUIRE(!w.overflow());
        bytes.resize(w.size());
        return bytes;
    }
};

}  // namespace

TEST_SUITE("uart_model") {

TEST_CASE("receive: typed bytes are read oldest first while LSR.DR is set; RBR reads 0 when empty") {
    Uart u;
    CHECK(u.in(kLsr) == 0x60);
    CHECK(u.uart.input_room() == UartReceiveFifo::kDepth);
    u.type("ls\r");
    CHECK(u.in(kLsr) == 0x61);
    CHECK(u.uart.input_room() == UartReceiveFifo::kDepth - 3);
    CHECK(u.read_all() == "ls\r");
    CHECK(u.in(kLsr) == 0x60);
    CHECK(u.in(kRbr) == 0x00);
    // With DLAB set, port 0 is the divisor latch and leaves received bytes alone.
    u.type("x");
    u.out(kLcr, 0x83);
    CHECK(u.in(kRbr) == 0x01);
    u.out(kLcr, 0x03);
    CHECK(u.in(kRbr) == 'x');
    CHECK(u.console.str().empty());  // input is not output
}

TEST_CASE("receive: the FIFO holds 16 bytes and the model takes no more than it has room for") {
    Uart u;
    u.type(std::string(UartReceiveFifo::kDepth, 'a'));
    CHECK(u.uart.input_room() == 0);
    u.uart.accept_input('b');  // not offered by the multiplexer; ignored, no overrun
    CHECK(u.in(kLsr) == 0x61);
    CHECK(u.read_all() == std::string(UartReceiveFifo::kDepth, 'a'));
}

TEST_CASE("receive: the received-data interrupt ranks above THRE and clears when the FIFO is read empty") {
    Uart u;
    u.out(kMcr, 0x08);  // OUT2: the PC's interrupt gate
    u.out(kFcr, 0x01);
    u.type("q");
    CHECK_FALSE(u.lines.level(Uart16550Model::kIrqPin));  // not enabled
    CHECK(u.in(kIir) == 0xc1);
    u.out(kIer, 0x03);  // received data and THRE
    CHECK(u.lines.level(Uart16550Model::kIrqPin));
    CHECK(u.in(kIir) == 0xc4);
    CHECK(u.in(kIir) == 0xc4);  // reading IIR does not clear it; reading the data does
    CHECK(u.in(kRbr) == 'q');
    CHECK(u.in(kIir) == 0xc2);  // THRE was pending underneath all along
    CHECK(u.in(kIir) == 0xc1);
    CHECK_FALSE(u.lines.level(Uart16550Model::kIrqPin));
    u.type("w");
    CHECK(u.lines.level(Uart16550Model::kIrqPin));
    u.out(kMcr, 0x00);  // OUT2 off: the line drops, the interrupt stays pending
    CHECK_FALSE(u.lines.level(Uart16550Model::kIrqPin));
    CHECK(u.in(kIir) == 0xc4);
}

TEST_CASE("receive: FCR bit 1 empties the receive FIFO") {
    Uart u;
    u.out(kMcr, 0x08);
    u.out(kIer, 0x01);
    u.type("abc");
    CHECK(u.lines.level(Uart16550Model::kIrqPin));
    u.out(kFcr, 0x03);
    CHECK(u.in(kLsr) == 0x60);
    CHECK_FALSE(u.lines.level(Uart16550Model::kIrqPin));
}

TEST_CASE("receive: in loopback the receiver hears the transmitter only; a full FIFO overruns once") {
    Uart u;
    u.out(kMcr, 0x10);
    CHECK(u.uart.input_room() == 0);  // typed input waits in the multiplexer
    for (char c : std::string("loop")) u.out(kRbr, static_cast<unsigned char>(c));
    CHECK(u.console.str().empty());
    CHECK(u.read_all() == "loop");
    for (int i = 0; i < 17; ++i) u.out(kRbr, 'z');
    CHECK(u.in(kLsr) == 0x63);  // data ready, overrun
    CHECK(u.in(kLsr) == 0x61);  // the overrun is reported once
    CHECK(u.read_all() == std::string(16, 'z'));
    u.out(kMcr, 0x00);
    CHECK(u.uart.input_room() == UartReceiveFifo::kDepth);
}

TEST_CASE("receive: unread input and the overrun flag are part of the saved state") {
    Uart u;
    u.out(kIer, 0x01);
    u.out(kMcr, 0x18);
    for (std::uint32_t i = 0; i < 17; ++i) u.out(kRbr, 'a' + i);
    u.out(kMcr, 0x08);
    CHECK(u.in(kRbr) == 'a');
    u.type("!");
    auto state = u.saved();
    CHECK(state.size() <= tandem::kMaxDeviceStateBytes);

    Uart copy;
    REQUIRE(copy.uart.restore_state(u.uart.state_version(), state).ok());
    CHECK(copy.saved() == state);
    CHECK(copy.lines.level(Uart16550Model::kIrqPin));  // the restored line is driven at once
    CHECK(copy.in(kLsr) == 0x63);
    CHECK(copy.read_all() == "bcdefghijklmnop!");

    // A bad overrun flag, a FIFO count over 16, or a missing byte are refused.
    const std::size_t overrun_at = state.size() - 1, count_at = state.size() - 1 - 16 - 1;
    CHECK(state[count_at] == 16);
    for (std::size_t at : {overrun_at, count_at}) {
        auto bad = state;
        bad[at] = 17;
        CHECK_FALSE(copy.uart.restore_state(6, bad).ok());
    }
    auto short_state = state;
    short_state.pop_back();
    CHECK_FALSE(copy.uart.restore_state(6, short_state).ok());
    CHECK_FALSE(copy.uart.restore_state(4, state).ok());
}

TEST_CASE("receive: the largest state (full FIFO) fits a device record") {
    Uart u;
    u.out(kMcr, 0x10);
    for (int i = 0; i < 17; ++i) u.out(kRbr, 'f');
    u.out(kMcr, 0x00);
    auto state = u.saved();
    CHECK(state.size() == Uart16550Model::kStateBytes);
    CHECK(state.size() <= tandem::kMaxDeviceStateBytes);
    Uart copy;
    CHECK(copy.uart.restore_state(6, state).ok());
    CHECK(copy.saved() == state);
}

}  // TEST_SUITE
