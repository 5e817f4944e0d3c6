// The shell's line editing (hypervisor/console/line_editor.hpp), judged by what a terminal shows:
// the echo goes through a small terminal model (printable characters overwrite at the cursor,
// backspace moves it left, newline starts a new row) whose last row must read as the line.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "helpers.hpp"
#include "hypervisor/console/line_editor.hpp"

using tandem::LineEditor;
using Outcome = LineEditor::Outcome;

namespace {

class Terminal final : public tandem::Writer {
public:
    void write(std::string_view text) override {
        for (char c : text) {
            if (c == '\n') {
                rows.emplace_back();
                column = 0;
            } else if (c == '\b') {
                REQUIRE(column != 0);  // the editor never backs out of its own line
                --column;
            } else {
                REQUIRE(c >= 0x20);
                REQUIRE(c < 0x7f);
                std::string& row = rows.back();
                if (column == row.size()) {
                    row += c;
                } else {
                    row[column] = c;
                }
                ++column;
            }
        }
    }
    // The row as a person reads it: trailing blanks are invisible.
    std::string shown(std::size_t back = 0) const {
        std::string row = rows[rows.size() - 1 - back];
        while (!row.empty() && row.back() == ' ') row.pop_back();
        return row;
    }
    std::vector<std::string> rows{1};
    std::size_t column = 0;
};

const std::string kUp = "\x1b[A", kDown = "\x1b[B", kRight = "\x1b[C", kLeft = "\x1b[D";

struct Editor {
    Terminal term;
    LineEditor editor{term};
    std::vector<std::string> lines;  // the lines finished so far
    int cancelled = 0;

    void type(const std::string& s) {
        for (char c : s) {
            Outcome o = editor.feed(c);
            if (o == Outcome::line_ready) lines.emplace_back(editor.overflowed() ? "<overflow>" : editor.line());
            if (o == Outcome::cancelled) ++cancelled;
        }
    }
    // The line being edited, as the terminal shows it, and the cursor's column.
    void check_shown(const std::string& expected, std::size_t cursor) {
        CHECK(term.shown() == expected);
        CHECK(term.column == cursor);
    }
};

}  // namespace

TEST_SUITE("line_editor") {

TEST_CASE("typed characters are echoed and the line ends at CR, LF or CR LF (one Enter)") {
    Editor e;
    e.type("status\r");
    e.type("link\n");
    e.type("help\r\n");
    CHECK(e.lines == std::vector<std::string>{"status", "link", "help"});
    CHECK(e.term.rows.size() == 4);
    CHECK(e.term.shown(1) == "help");
    e.type("\r\r");
    CHECK(e.lines.size() == 5);  // two empty lines: the shell ignores them
    CHECK(e.lines[4].empty());
}

TEST_CASE("backspace and DEL erase before the cursor, also in the middle of the line") {
    Editor e;
    e.type("statsu\b\bus");
    e.check_shown("status", 6);
    e.type(kLeft + kLeft + kLeft + "\x7f");
    e.check_shown("sttus", 2);
    e.type("\x7f\x7f\x7f\x7f");  // more than there is: stops at the start
    e.check_shown("tus", 0);
    e.type("\r");
    CHECK(e.lines.back() == "tus");
}

TEST_CASE("cursor keys move; typing inserts at the cursor; Home, End, Delete") {
    Editor e;
    e.type("epch 10");
    e.type(kLeft + kLeft + kLeft + kLeft + kLeft + "o");
    e.check_shown("epoch 10", 3);
    e.type("\x1b[H");  // Home
    e.check_shown("epoch 10", 0);
    e.type("\x1b[3~");  // Delete
    e.check_shown("poch 10", 0);
    e.type("e\x1bOF");  // End in application cursor mode
    e.check_shown("epoch 10", 8);
    e.type(kRight + kRight);  // nothing beyond the end
    e.check_shown("epoch 10", 8);
    e.type("\x1b[1~X\x05Y");  // Home (VT220), Ctrl-E: end
    e.check_shown("Xepoch 10Y", 10);
    e.type("\r");
    CHECK(e.lines.back() == "Xepoch 10Y");
}

TEST_CASE("Ctrl-U erases the line, Ctrl-W the word before the cursor, Ctrl-C abandons it") {
    Editor e;
    e.type("migrate to somewhere");
    e.type("\x17");
    e.check_shown("migrate to", 11);
    e.type("\x17\x17");
    e.check_shown("", 0);
    e.type("abc def" + kLeft + kLeft + kLeft + "\x15");
    e.check_shown("", 0);
    CHECK(e.term.rows.size() == 1);
    e.type("failover\x03");
    CHECK(e.cancelled == 1);
    CHECK(e.lines.empty());
    CHECK(e.term.rows.size() == 2);
    CHECK(e.term.shown(1) == "failover^C");
    e.type("status\r");
    CHECK(e.lines == std::vector<std::string>{"status"});  // nothing of the abandoned line
}

TEST_CASE("Up and Down walk the last lines, newest first, without repeats") {
    Editor e;
    e.type("status\rlink\rlink\rstats --json\r");
    e.type(kUp);
    e.check_shown("stats --json", 12);
    e.type(kUp);
    e.check_shown("link", 4);  // the repeated line is kept once
    e.type(kUp + kUp + kUp);
    e.check_shown("status", 6);  // the oldest: further Up stays there
    e.type(kDown);
    e.check_shown("link", 4);
    e.type(kDown + kDown);
    e.check_shown("", 0);  // past the newest: an empty line
    e.type(kUp + kUp + " --json\r");
    CHECK(e.lines.back() == "link --json");
    e.type(kUp);
    e.check_shown("link --json", 11);
}

TEST_CASE("the history keeps the last kHistory lines") {
    Editor e;
    for (std::size_t i = 0; i < LineEditor::kHistory + 3; ++i) e.type("cmd" + std::to_string(i) + "\r");
    for (std::size_t i = 0; i < LineEditor::kHistory + 2; ++i) e.type(kUp);
    e.check_shown("cmd3", 4);
}

TEST_CASE("a line longer than kMaxLine is refused whole, and not remembered") {
    Editor e;
    e.type(std::string(LineEditor::kMaxLine + 5, 'x'));
    CHECK(e.term.shown() == std::string(LineEditor::kMaxLine, 'x'));
    e.type("\r");
    CHECK(e.lines.back() == "<overflow>");
    e.type(kUp);
    e.check_shown("", 0);
    e.type("ok\r");
    CHECK(e.lines.back() == "ok");
}

TEST_CASE("unknown escape sequences and control characters change nothing") {
    Editor e;
    e.type("ab");
    e.type("\x1b[15~\x1b[1;5C\x1bOP\x1bx\t\x02\x1b[99999999999Z");
    e.type("c\r");
    CHECK(e.lines.back() == "abc");
}

}  // TEST_SUITE
