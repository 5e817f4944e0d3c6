// tandem's shell (hypervisor/console/shell.hpp): commands found by their first word with the rest
// as arguments, and a clear answer for everything else: unknown commands, over-long lines, a full
// command table.
#include <doctest/doctest.h>

#include <string>

#include "helpers.hpp"
#include "hypervisor/console/shell.hpp"

using tandem::Shell;

namespace {

struct ShellRig {
    test::StringWriter out;
    Shell shell{out};
    std::string args;
    int runs = 0;

    ShellRig() {
        REQUIRE(shell
                    .add({"epoch", "the epoch length",
                          [](void* self, std::string_view a, tandem::Writer& w) {
                              auto* rig = static_cast<ShellRig*>(self);
                              rig->args = std::string(a);
                              ++rig->runs;
                              tandem::println(w, "epoch: ok");
                          },
                          this, "<ms>"})
                    .ok());
        REQUIRE(shell.add({"status", "the state", [](void*, std::string_view, tandem::Writer& w) { tandem::println(w, "status: ok"); },
                           nullptr})
                    .ok());
    }
    void type(const std::string& s) {
        for (char c : s) shell.feed(c);
    }
};

}  // namespace

TEST_SUITE("shell") {

TEST_CASE("a command runs with its arguments, surrounding blanks trimmed, and a new prompt follows") {
    ShellRig r;
    r.type("   epoch 20 ms  \r");
    CHECK(r.runs == 1);
    CHECK(r.args == "20 ms");
    CHECK(r.out.str().ends_with("epoch: ok\ntandem> "));
    r.type("epoch\r");
    CHECK(r.args.empty());
    r.type("\r   \r");
    CHECK(r.runs == 2);  // empty lines run nothing
}

TEST_CASE("help lists every command; an unknown one is named with the list") {
    ShellRig r;
    r.type("help\r");
    CHECK(r.out.str().find("  epoch <ms> - the epoch length\n  status - the state\n  help - this list\n") != std::string::npos);
    r.out.clear();
    r.type("epochs 3\r");
    CHECK(r.out.str().find("shell: unknown command 'epochs'; commands: epoch status help\n") != std::string::npos);
    CHECK(r.runs == 0);
}

TEST_CASE("a command that takes no arguments refuses a line with some, saying what was extra") {
    ShellRig r;
    r.type("status  --json \r");
    CHECK(r.out.str().find("shell: 'status' takes no arguments (not '--json')\n") != std::string::npos);
    CHECK(r.out.str().find("status: ok") == std::string::npos);
    r.out.clear();
    r.type("status\r");
    CHECK(r.out.str().find("status: ok") != std::string::npos);
}

TEST_CASE("an over-long line is refused whole, not cut and run") {
    ShellRig r;
    r.type("epoch " + std::string(Shell::kMaxLine, '9') + "\r");
    CHECK(r.runs == 0);
    CHECK(r.out.str().find("shell: line longer than 120 characters: ignored") != std::string::npos);
}

TEST_CASE("edited lines run as shown: history recall and Ctrl-C") {
    ShellRig r;
    r.type("epoch 5\r");
    r.type("\x1b[A\b7\r");
    CHECK(r.args == "7");
    CHECK(r.runs == 2);
    r.type("epoch 9\x03");
    CHECK(r.runs == 2);
    CHECK(r.out.str().ends_with("^C\ntandem> "));
}

TEST_CASE("a full command table refuses the next command with the reason") {
    test::StringWriter out;
    Shell shell{out};
    for (std::size_t i = 0; i < Shell::kMaxCommands; ++i) CHECK(shell.add({"c", "", nullptr, nullptr}).ok());
    auto s = shell.add({"one-too-many", "", nullptr, nullptr});
    REQUIRE_FALSE(s.ok());
    CHECK(std::string(s.error().message) == "shell: too many commands");
}

}  // TEST_SUITE

TEST_CASE("number_argument: whole decimal numbers within the bounds, nothing else") {
    CHECK(Shell::number_argument("25", 1, 100) == 25u);
    CHECK(Shell::number_argument("0025", 1, 100) == 25u);
    CHECK(Shell::number_argument("1", 1, 100) == 1u);
    CHECK(Shell::number_argument("100", 1, 100) == 100u);
    for (const char* bad : {"", "0", "101", "-1", "+5", "5 ", "5ms", "0x10", "1e3", "18446744073709551616",
                            "99999999999999999999"}) {
        CAPTURE(bad);
        CHECK_FALSE(Shell::number_argument(bad, 1, 100).has_value());
    }
    CHECK(Shell::number_argument("9999999999999999999", 0, ~0ull) == 9999999999999999999ull);
}
