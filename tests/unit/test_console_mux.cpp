// One serial line, two consoles (hypervisor/console/console_mux.hpp): the guest's console by
// default, Ctrl-A c to tandem's shell and back, typed input held until the guest's UART has room,
// every other escape and every dropped keystroke said on the console.
#include <doctest/doctest.h>

#include <string>

#include "helpers.hpp"
#include "hypervisor/console/console_mux.hpp"
#include "hypervisor/devices/uart16550_model.hpp"

using tandem::ConsoleMux;

namespace {

// A guest port that takes `room` bytes until told otherwise.
class FakeGuestPort final : public tandem::ConsoleInputSink {
public:
    std::size_t input_room() const override { return room; }
    void accept_input(std::uint8_t byte) override {
        CHECK(room != 0);
        --room;
        received += static_cast<char>(byte);
    }
    std::size_t room = 1000;
    std::string received;
};

struct Mux {
    test::StringWriter out;
    tandem::Shell shell{out};
    ConsoleMux mux{shell, out};
    FakeGuestPort guest;
    std::string last_args;

    Mux() {
        REQUIRE(shell
                    .add({"status", "the state",
                          [](void* self, std::string_view args, tandem::Writer& w) {
                              static_cast<Mux*>(self)->last_args = std::string(args);
                              tandem::println(w, "status: fine");
                          },
                          this, "[when]"})
                    .ok());
        mux.attach_guest(&guest);
    }
    void type(const std::string& s) {
        for (char c : s) mux.feed(c);
        mux.deliver();
    }
};

constexpr char kCtrlA = ConsoleMux::kEscape;

}  // namespace

TEST_SUITE("console_mux") {

TEST_CASE("the guest's console is the default: typed bytes reach the guest as they were typed") {
    Mux m;
    CHECK(m.mux.view() == ConsoleMux::View::guest);
    m.type("root\r\x03\x7f\x1b[A");
    CHECK(m.guest.received == "root\r\x03\x7f\x1b[A");  // control bytes too: the guest's terminal
    CHECK(m.out.str().empty());                        // tandem echoes nothing for the guest
}

TEST_CASE("Ctrl-A c switches to tandem's shell, which runs commands, and back") {
    Mux m;
    m.type(std::string{kCtrlA} + "c");
    CHECK(m.mux.view() == ConsoleMux::View::shell);
    CHECK(m.out.str().find("console: tandem's shell (Ctrl-A c: back to the guest's console)") != std::string::npos);
    CHECK(m.out.str().ends_with("tandem> "));
    m.out.clear();
    m.type("status now\r");
    CHECK(m.last_args == "now");
    CHECK(m.out.str().find("status: fine") != std::string::npos);
    CHECK(m.guest.received.empty());  // the shell's input is not the guest's
    m.type(std::string{kCtrlA} + "C" + "ls\r");
    CHECK(m.mux.view() == ConsoleMux::View::guest);
    CHECK(m.out.str().find("console: the guest's console (Ctrl-A c: tandem's shell)") != std::string::npos);
    CHECK(m.guest.received == "ls\r");
}

TEST_CASE("Ctrl-A Ctrl-A types one Ctrl-A for the guest; in the shell it is ignored") {
    Mux m;
    m.type(std::string{kCtrlA, kCtrlA, 'x'});
    CHECK(m.guest.received == std::string{kCtrlA, 'x'});
    m.type(std::string{kCtrlA, 'c', kCtrlA, kCtrlA});
    CHECK(m.guest.received == std::string{kCtrlA, 'x'});
    CHECK(m.mux.view() == ConsoleMux::View::shell);
}

TEST_CASE("Ctrl-A h lists the keys; any other key after Ctrl-A is refused with a message, not passed on") {
    Mux m;
    m.type(std::string{kCtrlA, 'h'});
    CHECK(m.out.str().find("Ctrl-A c switches between the guest's console and tandem's shell") != std::string::npos);
    m.out.clear();
    m.type(std::string{kCtrlA, '?'});
    CHECK(m.out.str().find("Ctrl-A h this list") != std::string::npos);
    m.out.clear();
    m.type(std::string{kCtrlA, 'x'});
    CHECK(m.out.str() == "console: Ctrl-A x is not a console key (Ctrl-A h lists them)\n");
    m.out.clear();
    m.type(std::string{kCtrlA, '\x05'});
    CHECK(m.out.str() == "console: Ctrl-A then byte 0x05 is not a console key (Ctrl-A h lists them)\n");
    CHECK(m.guest.received.empty());
    CHECK(m.mux.view() == ConsoleMux::View::guest);
}

TEST_CASE("in the shell, a console message goes on its own row and the line being typed is shown again") {
    Mux m;
    m.type(std::string{kCtrlA} + "c" + "sta");
    m.out.clear();
    m.type(std::string{kCtrlA} + "z");
    CHECK(m.out.str() == "\nconsole: Ctrl-A z is not a console key (Ctrl-A h lists them)\ntandem> sta");
    m.out.clear();
    m.type(std::string{kCtrlA} + "c" + std::string{kCtrlA} + "c");  // away to the guest and back
    CHECK(m.out.str().ends_with("(Ctrl-A c: back to the guest's console)\ntandem> sta"));
    m.type("tus\r");
    CHECK(m.out.str().find("status: fine") != std::string::npos);
}

TEST_CASE("typed input waits for room in the guest's port, in order, and is delivered later") {
    Mux m;
    m.guest.room = 0;
    m.type("hello");
    CHECK(m.mux.waiting() == 5);
    m.guest.room = 2;
    m.mux.deliver();
    CHECK(m.guest.received == "he");
    m.guest.room = 100;
    m.type("!");
    CHECK(m.guest.received == "hello!");
    CHECK(m.mux.waiting() == 0);
    CHECK(m.mux.dropped() == 0);
}

TEST_CASE("a guest that does not read: what exceeds the type-ahead is dropped, said once, then counted") {
    Mux m;
    m.guest.room = 0;
    m.type(std::string(ConsoleMux::kTypeAhead + 10, 'k'));
    CHECK(m.mux.waiting() == ConsoleMux::kTypeAhead);
    CHECK(m.mux.dropped() == 10);
    CHECK(m.out.str() == "console: typed input dropped: the guest is not reading its console\n");
    m.out.clear();
    m.guest.room = 1000;
    m.mux.deliver();
    CHECK(m.guest.received == std::string(ConsoleMux::kTypeAhead, 'k'));
    CHECK(m.out.str() == "console: 10 typed characters were dropped while the guest was not reading\n");
    m.out.clear();
    m.mux.deliver();
    CHECK(m.out.str().empty());  // reported once
}

TEST_CASE("no guest on this machine (a backup): typed input is dropped with a pointer to the shell") {
    Mux m;
    m.mux.attach_guest(nullptr);
    m.type("abc");
    CHECK(m.out.str() == "console: typed input dropped: no guest runs on this machine (Ctrl-A c: tandem's shell)\n");
    CHECK(m.mux.dropped() == 3);
    CHECK(m.mux.waiting() == 0);
    m.out.clear();
    m.type("more");  // said once, not at every key
    CHECK(m.out.str().empty());
    CHECK(m.mux.dropped() == 7);
    m.out.clear();
    m.type(std::string{kCtrlA} + "cstatus\r");  // the shell still answers
    CHECK(m.out.str().find("status: fine") != std::string::npos);
    m.mux.attach_guest(&m.guest);
    m.type(std::string{kCtrlA} + "cx");
    CHECK(m.guest.received == "x");
}

TEST_CASE("with the guest's real UART: typed bytes arrive as fast as the guest reads its FIFO") {
    test::StringWriter out;
    tandem::Shell shell{out};
    ConsoleMux mux{shell, out};
    tandem::Uart16550Model uart{out};
    mux.attach_guest(&uart);
    const std::string line = "echo a line longer than the sixteen-byte FIFO\r";
    for (char c : line) mux.feed(c);
    std::string read;
    for (int tick = 0; tick < 10 && read.size() < line.size(); ++tick) {
        mux.deliver();
        while (uart.read(0x3fd, 1) & 0x01) read += static_cast<char>(uart.read(0x3f8, 1));
    }
    CHECK(read == line);
    CHECK(mux.dropped() == 0);
}

TEST_CASE("the ready line names the escape") {
    test::StringWriter out;
    ConsoleMux::announce_ready(out);
    CHECK(out.str().starts_with("tandem: console ready: the guest's console; Ctrl-A c switches"));
}

}  // TEST_SUITE
