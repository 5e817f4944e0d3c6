// tandem's buffered console (hypervisor/console/buffered_console.hpp, issue 14 defect 2): while
// a guest runs, writes only copy into the ring and drain() sends what the UART takes without
// waiting; guest lines that do not fit are dropped whole, counted and reported once the ring has
// drained; tandem's own messages are never dropped and wait at most for their own length;
// outside guest runs output is synchronous once nothing waits; flush() empties everything.
#include <doctest/doctest.h>

#include <string>

#include "console_fakes.hpp"
#include "helpers.hpp"
#include "hypervisor/console/console_ring.hpp"

using tandem::BufferedConsole;
using test::ConsoleRig;

namespace {

std::string guest_line(char fill, std::size_t length) { return "guest: " + std::string(length, fill) + "\n"; }

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_SUITE("buffered_console") {

TEST_CASE("the ring: first in first out across the wrap; uncommitted bytes are taken back, never popped") {
    char storage[5];
    tandem::ConsoleRing ring({storage, sizeof(storage)});
    std::string out;
    for (int round = 0; round < 7; ++round) {
        CHECK(ring.push('a'));
        CHECK(ring.push('b'));
        ring.commit();
        CHECK(ring.push('x'));  // a line still being written
        CHECK(ring.committed() == 2);
        ring.rollback();
        CHECK(ring.size() == 2);
        while (ring.committed() != 0) {
            out += ring.front();
            ring.pop();
        }
    }
    CHECK(out == "ababababababab");
    for (int i = 0; i < 5; ++i) CHECK(ring.push('z'));
    CHECK_FALSE(ring.push('z'));
    CHECK(ring.free() == 0);

    // Runs of bytes, copied across the wrap; all or nothing.
    tandem::ConsoleRing runs({storage, sizeof(storage)});
    CHECK(runs.push(std::string_view{"abc"}));
    runs.commit();
    runs.pop();
    runs.pop();
    CHECK(runs.push(std::string_view{"defg"}));
    CHECK_FALSE(runs.push(std::string_view{"h"}));
    CHECK(runs.push(std::string_view{}));
    runs.commit();
    std::string got;
    while (runs.committed() != 0) {
        got += runs.front();
        runs.pop();
    }
    CHECK(got == "cdefg");
}

TEST_CASE("synchronous until buffered: straight to the UART with \\n as \\r\\n, nothing held") {
    ConsoleRig rig;
    rig.console.write("boot\nok");
    rig.console.guest().write("guest: hi\n");
    CHECK(rig.port.sent == "boot\r\nokguest: hi\r\n");
    CHECK(rig.port.waited == rig.port.sent.size());
    CHECK(rig.console.waiting() == 0);
    rig.console.drain();
    CHECK(rig.port.ready_calls == 0);  // nothing waits: the UART is not even asked
}

TEST_CASE("buffered: writes only copy; drain() sends what the UART takes now, in order, never waiting") {
    ConsoleRig rig;
    rig.console.set_buffered(true);
    rig.console.write("pair: hello\n");
    rig.console.guest().write("guest (hypercall): ");
    rig.console.guest().write("abc");
    rig.console.guest().write("\n");
    CHECK(rig.port.sent.empty());
    CHECK(rig.console.waiting() == 13 + 24);
    rig.port.room = 0;  // THR busy: nothing goes
    rig.console.drain();
    CHECK(rig.port.sent.empty());
    rig.port.room = 4;
    rig.console.drain();
    CHECK(rig.port.sent == "pair");
    rig.port.room = 16;
    rig.drain_all();
    CHECK(rig.port.sent == "pair: hello\r\nguest (hypercall): abc\r\n");
    CHECK(rig.port.waited == 0);
    CHECK(rig.console.dropped_bytes() == 0);
}

TEST_CASE("guest lines that do not fit are dropped whole and counted; a marker says how much once room returns") {
    ConsoleRig rig(4096);
    rig.console.set_buffered(true);
    rig.port.room = 0;
    std::string line = guest_line('x', 993);  // 1001 bytes, 1002 on the wire
    for (int i = 0; i < 3; ++i) rig.console.guest().write(line);  // 3006 bytes: the reserve is left
    CHECK(rig.console.dropped_bytes() == 0);
    // The fourth in pieces, as the UART model writes: dropped as a whole, the part already in
    // the ring taken back.
    rig.console.guest().write("guest: ");
    rig.console.guest().write(std::string(993, 'y'));
    rig.console.guest().write("\n");
    rig.console.guest().write(guest_line('z', 10));  // fits, but the marker must come first: dropped
    CHECK(rig.console.dropped_bytes() == 1001 + 18);
    CHECK(rig.console.dropped_lines() == 2);
    CHECK_FALSE(rig.console.guest().has_room(10));
    CHECK(rig.console.waiting() == 3 * 1002);
    // tandem's own message still fits, in the reserve, without waiting.
    rig.console.write("pair: PROTECTED\n");
    CHECK(rig.port.waited == 0);

    rig.port.room = 16;
    rig.drain_all();
    CHECK(rig.port.waited == 0);
    const std::string& out = rig.port.sent;
    CHECK(count(out, "guest: x") == 3);
    CHECK(out.find("yyy") == std::string::npos);  // the marker says "bytes": look for the line's
    CHECK(out.find("zzz") == std::string::npos);
    CHECK(out.find("\r\npair: PROTECTED\r\ntandem: console: 1019 bytes (2 lines) of guest output dropped: the serial "
                   "line is slower than the guest\r\n") != std::string::npos);
    // Room again: guest lines are kept, and nothing more is reported.
    CHECK(rig.console.guest().has_room(100));
    rig.console.guest().write(guest_line('w', 5));
    rig.drain_all();
    CHECK(out.substr(out.size() - 14) == "guest: wwwww\r\n");
    CHECK(count(out, "tandem: console:") == 1);
}

TEST_CASE("a guest line longer than the ring less its reserve is always dropped") {
    ConsoleRig rig(2048);
    rig.console.set_buffered(true);
    rig.console.guest().write("guest (hypercall): " + std::string(4096, 'q') + "\n");
    CHECK(rig.console.dropped_bytes() == 19 + 4096 + 1);
    CHECK(rig.console.dropped_lines() == 1);
    CHECK(rig.console.waiting() == 0);
}

TEST_CASE("tandem's own messages are never dropped: a full ring drains synchronously, only what the message needs") {
    ConsoleRig rig(2048);
    rig.console.set_buffered(true);
    rig.port.room = 0;
    std::string first(2000, 'a');
    rig.console.write(first);
    CHECK(rig.port.waited == 0);
    rig.console.write(std::string(99, 'b') + "\n");  // 101 on the wire, 48 free: 53 bytes wait
    CHECK(rig.port.waited == 53);
    CHECK(rig.port.sent == std::string(53, 'a'));
    rig.port.room = 16;
    rig.drain_all();
    CHECK(rig.port.sent == first + std::string(99, 'b') + "\r\n");
    CHECK(rig.console.dropped_bytes() == 0);

    // Longer than the ring: what waits first, then the message straight out.
    rig.port.sent.clear();
    rig.console.write("x");
    rig.console.write(std::string(3000, 'c'));
    CHECK(rig.port.sent == "x" + std::string(3000, 'c'));
    CHECK(rig.console.waiting() == 0);
}

TEST_CASE("after a guest run, writes queue behind what waits until it has drained, then are synchronous again") {
    ConsoleRig rig;
    rig.console.set_buffered(true);
    rig.port.room = 0;
    rig.console.guest().write("guest: last words\n");
    rig.console.set_buffered(false);
    rig.console.write("tandem: guest exited with code 0\n");  // behind the guest's line, not waiting
    CHECK(rig.port.waited == 0);
    CHECK(rig.port.sent.empty());
    rig.port.room = 16;
    rig.drain_all();
    CHECK(rig.port.sent == "guest: last words\r\ntandem: guest exited with code 0\r\n");
    rig.console.write("tandem: halted\n");
    CHECK(rig.port.waited == 16);
    CHECK(rig.console.waiting() == 0);
}

TEST_CASE("flush() sends everything, the marker for unreported losses included, then output is synchronous") {
    ConsoleRig rig(2048);
    rig.console.set_buffered(true);
    rig.port.room = 0;
    rig.console.guest().write(guest_line('x', 900));
    rig.console.guest().write("guest: cut by tandem");  // an open line when tandem speaks: kept
    rig.console.write("\ntandem: PANIC: test\n");
    rig.console.guest().write(guest_line('y', 900));  // dropped: the reserve
    rig.console.flush();
    CHECK_FALSE(rig.console.buffered());
    CHECK(rig.console.waiting() == 0);
    const std::string& out = rig.port.sent;
    CHECK(out.find("guest: xxx") == 0);
    CHECK(out.find("yyy") == std::string::npos);  // the marker says "bytes": look for the line's
    CHECK(out.find("guest: cut by tandem\r\ntandem: PANIC: test\r\n") != std::string::npos);
    CHECK(out.find("tandem: console: 908 bytes (1 lines) of guest output dropped") != std::string::npos);
    std::size_t before = rig.port.waited;
    rig.console.write("tandem: halted\n");
    CHECK(rig.port.waited == before + 16);
}

TEST_CASE("long runs: whatever the UART takes at each drain, the output is exactly what was written") {
    ConsoleRig rig(1500);
    rig.console.set_buffered(true);
    std::string expected;
    std::size_t rooms[] = {0, 1, 16, 3, 0, 16, 7};
    for (int i = 0; i < 2000; ++i) {
        std::string text = "msg " + std::to_string(i) + (i % 3 == 0 ? "\n" : " ");
        if (i % 5 == 0) {
            rig.console.guest().write("guest: " + std::to_string(i) + "\n");
            expected += "guest: " + std::to_string(i) + "\r\n";
        } else {
            rig.console.write(text);
            for (char c : text) expected += c == '\n' ? std::string("\r\n") : std::string(1, c);
        }
        rig.port.room = rooms[i % 7];
        rig.console.drain();
        rig.console.drain();
    }
    rig.port.room = 16;
    rig.drain_all();
    CHECK(rig.console.dropped_bytes() == 0);
    CHECK(rig.port.sent == expected);
    CHECK(rig.port.waited == 0);
}

}  // TEST_SUITE
