// libFuzzer: what reaches tandem's serial line from its three writers (hypervisor/console/
// buffered_console.hpp): the guest's UART bytes (untrusted: the guest writes anything), lines
// written for the guest (the print hypercall), tandem's own messages, with views switched,
// buffering turned on and off, a UART that takes 0-19 bytes per drain and time passing.
//
// The input is a program, one operation per byte (byte % 9): 0 a guest byte (the next input
// byte), 1 a guest run (count, then that many bytes), 2 a message of tandem's, 3 a hypercall
// line, 4 a drain (the UART's room, the time step), 5 switch views (with the switch lines and
// the shell's prompt, as console_mux.cpp writes them), 6 buffering on/off, 7 flush, 8 a key
// typed in the shell (echoed 'x', or Enter: a new prompt "P> "). Guest bytes avoid 'm' and 'h'
// (the fuzzer's own messages are "m<k>" and "h<k>"), ' ' and '\r' (so escapes, ended rows and
// prompts can be told from them). Checked at the end, beyond ASan/UBSan:
//   - every message of tandem's is one whole row, exactly once, in order ("|tandem| m<k>" in
//     the guest's view, "m<k>" in the shell's): never dropped, never cut, never joined, never
//     written into the shell's prompt row;
//   - every shell row is the prompt and what was typed, nothing else ("P> x..."), and after
//     a message in the shell's view the prompt and the line are drawn again;
//   - every hypercall line is one whole row or absent (dropped), in order;
//   - every marked row is tandem's: a message, a hypercall line or the console's own report. The
//     guest can never produce one;
//   - the guest's bytes on the line (escapes and row ends tandem added taken out) are what it
//     wrote, in order, less the dropped ones: the shown and the dropped add up to what it wrote.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/console/buffered_console.hpp"

namespace {

// `line`: __LINE__ of the check, said before aborting (a crash input then tells which failed).
void check(bool ok, int line) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_console_output: check failed at line %d\n", line);
    std::abort();
}

class Port final : public tandem::SerialPort {
public:
    std::size_t ready() override { return allowance = room; }
    void put(char c) override {
        check(allowance != 0, __LINE__);
        --allowance;
        sent += c;
    }
    void put_waiting(char c) override { sent += c; }
    std::size_t room = 16, allowance = 0;
    std::string sent;
};

char guest_char(std::uint8_t b) {
    char c = static_cast<char>(b);
    if (c == 'm' || c == 'h' || c == ' ' || c == '\r') return '.';
    return c;
}

// The shell's prompt and line (ShellLine), as the fuzzer types it.
class Prompt final : public tandem::ShellLine {
public:
    explicit Prompt(tandem::Writer& out) : out_(out) {}
    void redraw() override {
        out_.write("P> ");
        out_.write(typed);
    }
    std::string typed;

private:
    tandem::Writer& out_;
};

struct Run {
    std::vector<char> ring = std::vector<char>(2048), held = std::vector<char>(512);
    Port port;
    tandem::BufferedConsole console{{ring.data(), ring.size()}, {held.data(), held.size()}, port};
    Prompt prompt{console};
    std::string guest_written;
    std::size_t messages = 0, hypercalls = 0;
    std::uint64_t now = 0;
};

void switch_view(Run& r) {
    r.console.shell_input(true, r.prompt);
    if (r.console.shell_shown()) {
        tandem::println(r.console, "\n{}", tandem::kGuestViewLine);
        r.console.show_shell(false);
    } else {
        tandem::println(r.console, "{}", tandem::kShellViewLine);
        r.console.show_shell(true);
        r.prompt.redraw();
    }
    r.console.shell_input(false, r.prompt);
}

void type_in_shell(Run& r, std::uint8_t key) {
    if (!r.console.shell_shown()) return;
    r.console.shell_input(true, r.prompt);
    if (key % 4 == 0) {
        r.console.write("\n");
        r.prompt.typed.clear();
        r.prompt.redraw();
    } else {
        r.console.write("x");
        r.prompt.typed += 'x';
    }
    r.console.shell_input(false, r.prompt);
}

void execute(Run& r, const std::uint8_t* data, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
        auto next = [&]() -> std::uint8_t { return i + 1 < size ? data[++i] : 0; };
        switch (data[i] % 9) {
            case 0: {
                char c = guest_char(next());
                r.guest_written += c;
                r.console.guest().write({&c, 1});
                break;
            }
            case 1: {
                std::size_t n = next() % 200;
                for (std::size_t k = 0; k < n; ++k) {
                    char c = k % 40 == 39 ? '\n' : guest_char(static_cast<std::uint8_t>('a' + (k + i) % 26));
                    r.guest_written += c;
                    r.console.guest().write({&c, 1});
                }
                break;
            }
            case 2: tandem::println(r.console, "m{}", r.messages++); break;
            case 3: {
                r.console.guest_lines().write("guest (hypercall): ");
                tandem::println(r.console.guest_lines(), "h{}", r.hypercalls++);
                break;
            }
            case 4:
                r.port.room = next() % 20;
                r.console.drain(r.now += next() * 4u);
                break;
            case 5: switch_view(r); break;
            case 6: r.console.set_buffered(!r.console.buffered()); break;
            case 7: r.console.flush(); break;
            default: type_in_shell(r, next()); break;
        }
    }
    r.console.flush();  // the end: everything out, the guest's held output included
    if (r.console.shell_shown()) r.console.show_shell(false);
    r.console.flush();
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

void judge(const Run& r) {
    std::string_view out = r.port.sent;
    std::size_t next_message = 0, next_hypercall = 0;
    std::string guest_shown;
    while (!out.empty()) {
        std::size_t end = out.find('\n');
        std::string_view row = out.substr(0, end == std::string_view::npos ? out.size() : end + 1);
        out.remove_prefix(row.size());
        bool ended_by_tandem = row.size() >= 2 && row.substr(row.size() - 2) == "\r\n";
        std::string_view body = ended_by_tandem ? row.substr(0, row.size() - 2) : row;
        bool marked = starts_with(body, "|tandem| ") || body == "|tandem|";
        std::string_view text = marked ? body.substr(body.size() > 8 ? 9 : 8) : body;
        std::string expected_message = "m" + std::to_string(next_message);
        std::string expected_hypercall = "guest (hypercall): h" + std::to_string(next_hypercall);
        if (ended_by_tandem && text == expected_message) {
            ++next_message;
            // In the shell's view the prompt and the line come again right after it.
            if (!marked && !out.empty()) check(starts_with(out, "P> "), __LINE__);
            continue;
        }
        if (!marked && starts_with(body, "P> ")) {  // the shell's prompt and typed line: nothing else
            check(body.find_first_not_of('x', 3) == std::string_view::npos, __LINE__);
            continue;
        }
        if (ended_by_tandem && starts_with(text, "guest (hypercall): h")) {
            // In order; the ones before it were dropped.
            std::size_t k = std::stoul(std::string(text.substr(20)));
            check(k >= next_hypercall && k < r.hypercalls, __LINE__);
            next_hypercall = k + 1;
            continue;
        }
        if (ended_by_tandem && (starts_with(text, "tandem: console: ") || starts_with(text, "console: "))) continue;
        check(!marked, __LINE__);  // nothing else is tandem's: the guest cannot write a marked row
        // The guest's: an escaped '|' at the row's start, and a row tandem ended, taken out.
        if (starts_with(body, " |")) body.remove_prefix(1);
        guest_shown += body;  // with the guest's own '\n', if it ended the row
    }
    check(next_message == r.messages, __LINE__);
    // What was shown is what the guest wrote, in order, with the dropped bytes left out.
    std::size_t at = 0;
    for (char c : guest_shown) {
        while (at < r.guest_written.size() && r.guest_written[at] != c) ++at;
        check(at < r.guest_written.size(), __LINE__);
        ++at;
    }
    check(guest_shown.size() + r.console.dropped_bytes() + r.console.dropped_in_shell() >=
          r.guest_written.size(), __LINE__);  // hypercall bytes are counted as dropped too: at least
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Run r;
    execute(r, data, size);
    judge(r);
    return 0;
}
