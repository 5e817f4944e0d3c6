// The guest's console shown raw beside tandem's lines (issue 16; buffered_console.hpp): in the
// guest's view tandem's lines carry the marker and the guest's bytes pass as written, except that
// a guest row starting with '|' gets a space, so the guest cannot forge one of tandem's lines;
// tandem's messages wait for the end of the guest's line (at most kHoldMs); in tandem's shell
// tandem's output is unmarked and the guest's bytes wait for the guest's view. And no loss of a
// polling guest's output under a flood.
#include <doctest/doctest.h>

#include <string>

#include "console_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/console/console_mux.hpp"
#include "hypervisor/devices/uart16550_model.hpp"

using tandem::BufferedConsole;
using test::ConsoleRig;

namespace {

struct Buffered : ConsoleRig {
    explicit Buffered(std::size_t bytes = 4096, std::size_t held_bytes = 2048) : ConsoleRig(bytes, held_bytes) {
        console.set_buffered(true);
    }
    void guest(const std::string& bytes) { console.guest().write(bytes); }
    const std::string& line() {
        drain_all();
        return port.sent;
    }
};

class NoGuestInput final : public tandem::ConsoleInputSink {
public:
    std::size_t input_room() const override { return 0; }
    void accept_input(std::uint8_t) override {}
};

}  // namespace

TEST_SUITE("console_view") {

TEST_CASE("the guest's view: tandem's lines marked, the guest's bytes as written, its '|' rows escaped") {
    Buffered c;
    c.console.write("pair: protected\n\n");
    c.guest("login: root\r\n|fake| pair: took over\n");  // a row the guest starts with '|'
    c.guest("\r|again\r\na|b |c\n|");
    CHECK(c.line() == "|tandem| pair: protected\r\n|tandem|\r\nlogin: root\r\n |fake| pair: took over\n"
                      "\r |again\r\na|b |c\n |");
    // Every row of the line that starts with the marker is tandem's.
    CHECK(c.console.dropped_bytes() == 0);
}

TEST_CASE("tandem's message waits for the end of the guest's line, then follows it") {
    Buffered c;
    c.guest("Debian GNU/Linux 12 tandem ttyS0\r\n\r\ntandem login: ");
    c.console.write("pair: backup joined\n");
    CHECK(c.console.held_messages() == 30);
    CHECK(c.line() == "Debian GNU/Linux 12 tandem ttyS0\r\n\r\ntandem login: ");  // not cut by tandem
    c.guest("root\r\n");
    CHECK(c.console.held_messages() == 0);
    const std::string& out = c.line();
    CHECK(out.substr(out.find("tandem login: ")) == "tandem login: root\r\n|tandem| pair: backup joined\r\n");
}

TEST_CASE("a guest line left open (a prompt) holds tandem's message kHoldMs at most, then the row is ended") {
    Buffered c;
    c.guest("# ");
    c.console.write("pair: epoch 50 ms\n");
    c.console.drain(1000);  // the wait starts at the first drain that knows the time
    c.console.drain(1000 + BufferedConsole::kHoldMs - 1);
    CHECK(c.console.held_messages() != 0);
    c.console.drain(1000 + BufferedConsole::kHoldMs);
    CHECK(c.console.held_messages() == 0);
    c.guest("ls\r\n");  // what the guest echoes next starts a row of its own
    CHECK(c.line() == "# \r\n|tandem| pair: epoch 50 ms\r\nls\r\n");
    // Without the time (idle loops) nothing is released early: a guest line ending releases it.
    c.guest("$ ");
    c.console.write("x\n");
    for (int i = 0; i < 10; ++i) c.console.drain();
    CHECK(c.console.held_messages() != 0);
}

TEST_CASE("a guest stopped in the middle of a line: its row is ended and tandem's messages follow at once") {
    Buffered c;
    c.guest("half a li");
    c.console.write("vm: guest stopped\n");
    c.console.set_buffered(false);
    CHECK(c.console.held_messages() == 0);
    CHECK(c.line() == "half a li\r\n|tandem| vm: guest stopped\r\n");
}

TEST_CASE("tandem's shell: unmarked output, the guest's bytes held and shown when the guest's view returns") {
    Buffered c(4096, 64);
    c.guest("# ");
    c.console.write("console: tandem's shell (Ctrl-A c: back to the guest's console)\n");  // held: the prompt
    c.console.show_shell(true);  // the held line goes, on a row of its own
    c.console.write("tandem> status\nstatus: protected\n");
    CHECK(c.console.guest().has_room(1000));  // a person reading the shell never stalls the guest
    c.guest("from the guest\n");
    CHECK(c.line() == "# \r\n|tandem| console: tandem's shell (Ctrl-A c: back to the guest's console)\r\n"
                      "tandem> status\r\nstatus: protected\r\n");  // nothing of the guest's
    c.console.write("\nconsole: the guest's console (Ctrl-A c: tandem's shell)\n");
    c.console.show_shell(false);
    CHECK(c.line().substr(c.line().find("\r\n\r\nconsole: the guest's console")) ==
          "\r\n\r\nconsole: the guest's console (Ctrl-A c: tandem's shell)\r\nfrom the guest\n");
    // More than the held ring takes: the first 64 bytes are shown, the rest counted and said.
    c.port.sent.clear();
    c.console.show_shell(true);
    c.guest(std::string(100, 'g'));
    c.console.show_shell(false);
    CHECK(c.line() == std::string(64, 'g') +
                          "\r\n|tandem| console: 36 bytes of the guest's output were dropped while tandem's shell was shown\r\n");
}

TEST_CASE("back from the shell the guest's held output goes out as the line drains: none dropped, new output behind it") {
    Buffered c(2048, 4096);  // a ring smaller than what was held: it takes several drains
    std::string written;
    auto guest_writes = [&](std::size_t bytes) {
        for (std::size_t i = 0; i < bytes; ++i) {
            std::size_t n = written.size();
            char ch = n % 50 == 49 ? '\n' : static_cast<char>('a' + n % 26);
            if (!c.console.guest().has_room(1)) return;  // a guest that waits for THRE
            c.guest(std::string(1, ch));
            written += ch;
        }
    };
    c.port.room = 0;
    c.console.show_shell(true);
    guest_writes(4000);
    CHECK(written.size() == 4000);
    c.console.show_shell(false);
    // What the ring took (beside its reserve) left the held ring; new bytes wait behind the rest.
    CHECK(c.console.guest().has_room(1000));
    CHECK_FALSE(c.console.guest().has_room(1200));
    guest_writes(2000);  // waits when the held ring is full
    CHECK(written.size() < 4000 + 1200);
    for (int i = 0; i < 2000; ++i) {
        c.port.room = 8;
        c.console.drain();
        guest_writes(20);
    }
    CHECK(c.line() == written);
    CHECK(written.size() > 10000);
    CHECK(c.console.dropped_bytes() == 0);
    CHECK(c.console.dropped_in_shell() == 0);
}

TEST_CASE("tandem stops with its shell shown: the guest's held output is not lost, its view is shown for it") {
    Buffered c;
    c.console.show_shell(true);
    c.guest("memwalk: checksum=0x1234\n");
    c.console.write("tandem: halted\n");
    c.console.flush();
    CHECK(c.port.sent == "tandem: halted\r\n\r\nconsole: the guest's console (Ctrl-A c: tandem's shell)\r\n"
                         "memwalk: checksum=0x1234\n");
    CHECK_FALSE(c.console.shell_shown());
    // Nothing held: flush() leaves the view alone.
    Buffered d;
    d.console.show_shell(true);
    d.console.flush();
    CHECK(d.console.shell_shown());
    CHECK(d.port.sent.empty());
}

TEST_CASE("the multiplexer tells the console the view: switch lines, marked in the guest's view") {
    Buffered c;
    tandem::Shell shell{c.console};
    tandem::ConsoleMux mux{shell, c.console, &c.console};
    NoGuestInput guest;
    mux.attach_guest(&guest);
    c.guest("root@tandem:~# ");
    for (char key : std::string("\x01" "c")) mux.feed(key);
    CHECK(c.console.shell_shown());
    c.guest("typed while in the shell\r\n");
    for (char key : std::string("\x01" "c")) mux.feed(key);
    CHECK_FALSE(c.console.shell_shown());
    CHECK(c.line() == "root@tandem:~# \r\n|tandem| console: tandem's shell (Ctrl-A c: back to the guest's console)\r\n"
                      "tandem> \r\nconsole: the guest's console (Ctrl-A c: tandem's shell)\r\n"
                      "typed while in the shell\r\n");
}

TEST_CASE("in the shell a message cuts no typed line: it gets a row of its own and the line is drawn again") {
    Buffered c;
    tandem::Shell shell{c.console};
    bool ran = false;
    REQUIRE(shell.add({"status", "s", [](void* ran_flag, std::string_view, tandem::Writer& out) {
                           *static_cast<bool*>(ran_flag) = true;
                           out.write("answer\n");
                       }, &ran, "[--json]"}));
    tandem::ConsoleMux mux{shell, c.console, &c.console};
    for (char key : std::string("\x01" "c" "status -")) mux.feed(key);
    c.line();
    c.port.sent.clear();
    tandem::println(c.console, "migrate: done: {} ms", 8098);  // a session's message, not an answer
    CHECK(c.line() == "\r\nmigrate: done: 8098 ms\r\ntandem> status -");
    // A message written in pieces keeps its row until it ends; then the line again.
    c.port.sent.clear();
    c.console.write("pair: ");
    c.console.write("PROTECTED");
    CHECK(c.line() == "\r\npair: PROTECTED");
    c.console.write("\n");
    CHECK(c.line() == "\r\npair: PROTECTED\r\ntandem> status -");
    // Typing after an unfinished message: a fresh row with the prompt and the line first.
    c.port.sent.clear();
    c.console.write("half a message");
    for (char key : std::string("-json\r")) mux.feed(key);
    CHECK(ran);
    CHECK(c.line() == "\r\nhalf a message\r\ntandem> status --json\r\nanswer\r\ntandem> ");
    // The guest's view: messages are marked and not followed by the shell's prompt.
    for (char key : std::string("\x01" "c")) mux.feed(key);
    c.line();
    c.port.sent.clear();
    tandem::println(c.console, "pair: lost");
    CHECK(c.line() == "|tandem| pair: lost\r\n");
}

TEST_CASE("a polling guest flooding its UART loses nothing: every byte reaches the line, in order") {
    ConsoleRig rig(4096);
    tandem::Uart16550Model uart{rig.console.guest()};
    rig.console.set_buffered(true);
    std::string written;
    std::size_t waits = 0;
    std::uint64_t now = 0;
    for (std::size_t i = 0; written.size() < 200'000; ++i) {
        rig.port.room = i % 4 == 0 ? 1 : 0;  // a serial line slower than the guest: a byte every fourth exit
        if ((uart.read(0x3fd, 1) & 0x20) == 0) {  // LSR.THRE clear: the guest waits and tries again
            ++waits;
        } else {
            std::size_t n = written.size();
            char c = n % 81 == 80 ? '\n' : (n % 97 == 0 ? '|' : static_cast<char>('a' + n % 26));
            uart.write(0x3f8, 1, static_cast<unsigned char>(c));
            written += c;
        }
        if (i % 1000 == 0) tandem::println(rig.console, "pair: epoch {}", i);  // tandem speaks meanwhile
        rig.console.drain(now += 1);
    }
    rig.port.room = 16;
    rig.drain_all();
    CHECK(waits > 100'000);  // the guest did wait for the line
    CHECK(rig.console.dropped_bytes() == 0);
    // The line without tandem's rows and the escapes is exactly what the guest wrote.
    std::string guest_part;
    const std::string& out = rig.port.sent;
    for (std::size_t at = 0; at < out.size();) {
        std::size_t end = out.find('\n', at);
        std::string row = out.substr(at, end == std::string::npos ? std::string::npos : end + 1 - at);
        at = end == std::string::npos ? out.size() : end + 1;
        if (row.rfind("|tandem| ", 0) == 0) continue;
        if (row.rfind(" |", 0) == 0) row.erase(0, 1);
        // This guest ends its lines with "\n" alone: "\r\n" ended a row for tandem's message.
        if (row.size() >= 2 && row.compare(row.size() - 2, 2, "\r\n") == 0) row.erase(row.size() - 2);
        guest_part += row;
    }
    CHECK(guest_part.size() == written.size());
    CHECK(guest_part == written);
    CHECK(out.find("|tandem| pair: epoch 0\r\n") != std::string::npos);
}

}  // TEST_SUITE
