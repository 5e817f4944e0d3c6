// The report printed when the hypervisor takes an exception (arch-x86_64/cpu/exception_report.hpp).
#include <doctest/doctest.h>

#include <string>

#include "arch-x86_64/cpu/exception_report.hpp"
#include "helpers.hpp"

using namespace tandem;
using namespace tandem::x86;

namespace {

// Every register gets a distinct value so each one can be found in the text.
ExceptionFrame frame(std::uint64_t vector, std::uint64_t error_code) {
    ExceptionFrame f{};
    f.r15 = 0xf15;
    f.r14 = 0xf14;
    f.r13 = 0xf13;
    f.r12 = 0xf12;
    f.r11 = 0xf11;
    f.r10 = 0xf10;
    f.r9 = 0xf09;
    f.r8 = 0xf08;
    f.rbp = 0xb0;
    f.rdi = 0xd1;
    f.rsi = 0x51;
    f.rdx = 0xd0;
    f.rcx = 0xc0;
    f.rbx = 0xb1;
    f.rax = 0xa0;
    f.vector = vector;
    f.error_code = error_code;
    f.rip = 0x201234;
    f.cs = 0x8;
    f.rflags = 0x10046;
    f.rsp = 0x2f0000;
    f.ss = 0x10;
    return f;
}

constexpr ControlRegisters kCr{0x80010033, 0xdeadbeef, 0x300000, 0x2020};

std::string report(const ExceptionFrame& f, const ControlRegisters& cr = kCr) {
    test::StringWriter out;
    report_exception(out, f, cr);
    return out.str();
}

std::string first_two_lines(const std::string& s) {
    std::size_t nl = s.find('\n');
    return s.substr(0, s.find('\n', nl + 1) + 1);
}

}  // namespace

TEST_SUITE("exception_report") {

TEST_CASE("vector names and mnemonics") {
    CHECK(std::string(exception_mnemonic(0)) == "#DE");
    CHECK(std::string(exception_name(0)) == "divide error");
    CHECK(std::string(exception_mnemonic(2)) == "NMI");
    CHECK(std::string(exception_mnemonic(6)) == "#UD");
    CHECK(std::string(exception_name(6)) == "invalid opcode");
    CHECK(std::string(exception_mnemonic(8)) == "#DF");
    CHECK(std::string(exception_mnemonic(13)) == "#GP");
    CHECK(std::string(exception_name(13)) == "general protection");
    CHECK(std::string(exception_mnemonic(14)) == "#PF");
    CHECK(std::string(exception_name(14)) == "page fault");
    CHECK(std::string(exception_mnemonic(18)) == "#MC");
    CHECK(std::string(exception_mnemonic(20)) == "#VE");
    CHECK(std::string(exception_mnemonic(21)) == "#CP");
    CHECK(std::string(exception_mnemonic(29)) == "#VC");
    CHECK(std::string(exception_mnemonic(30)) == "#SX");
    CHECK(std::string(exception_mnemonic(31)) == "#31");
    CHECK(std::string(exception_name(31)) == "reserved");
    for (std::uint64_t v : {32ull, 255ull, ~0ull}) {
        CHECK(std::string(exception_mnemonic(v)) == "INT");
        CHECK(std::string(exception_name(v)) == "unexpected external interrupt");
    }
}

TEST_CASE("exactly the architectural vectors push an error code") {
    for (std::uint64_t v = 0; v < 40; ++v) {
        CAPTURE(v);
        bool expected = v == 8 || v == 10 || v == 11 || v == 12 || v == 13 || v == 14 || v == 17 || v == 21 ||
                        v == 29 || v == 30;
        CHECK(has_error_code(v) == expected);
    }
}

TEST_CASE("a page fault report, in full") {
    std::string text = report(frame(14, 0x2));
    CHECK(text ==
          "tandem: EXCEPTION #PF (page fault, vector 14) in the hypervisor\n"
          "  error code 0x2 [not-present write supervisor] at address 0x00000000deadbeef\n"
          "  rip 0x0000000000201234 cs 0x0000000000000008 rflags 0x0000000000010046\n"
          "  rsp 0x00000000002f0000 ss 0x0000000000000010 rbp 0x00000000000000b0\n"
          "  rax 0x00000000000000a0 rbx 0x00000000000000b1 rcx 0x00000000000000c0\n"
          "  rdx 0x00000000000000d0 rsi 0x0000000000000051 rdi 0x00000000000000d1\n"
          "  r8  0x0000000000000f08 r9  0x0000000000000f09 r10 0x0000000000000f10\n"
          "  r11 0x0000000000000f11 r12 0x0000000000000f12 r13 0x0000000000000f13\n"
          "  r14 0x0000000000000f14 r15 0x0000000000000f15\n"
          "  cr0 0x0000000080010033 cr2 0x00000000deadbeef cr3 0x0000000000300000 cr4 0x0000000000002020\n");
}

TEST_CASE("page-fault error code bits") {
    auto line = [](std::uint64_t code) {
        std::string t = report(frame(14, code));
        std::size_t start = t.find('\n') + 1;
        return t.substr(start, t.find('\n', start) - start);
    };
    CHECK(line(0x0) == "  error code 0x0 [not-present read supervisor] at address 0x00000000deadbeef");
    CHECK(line(0x1) == "  error code 0x1 [protection-violation read supervisor] at address 0x00000000deadbeef");
    CHECK(line(0x3) == "  error code 0x3 [protection-violation write supervisor] at address 0x00000000deadbeef");
    CHECK(line(0x4) == "  error code 0x4 [not-present read user] at address 0x00000000deadbeef");
    CHECK(line(0x8) == "  error code 0x8 [not-present read supervisor reserved-bit] at address 0x00000000deadbeef");
    CHECK(line(0x11) ==
          "  error code 0x11 [protection-violation read supervisor instruction-fetch] at address 0x00000000deadbeef");
    CHECK(line(0x1f) == "  error code 0x1f [protection-violation write user reserved-bit instruction-fetch] at "
                        "address 0x00000000deadbeef");
}

TEST_CASE("general protection and other vectors") {
    CHECK(first_two_lines(report(frame(13, 0))) ==
          "tandem: EXCEPTION #GP (general protection, vector 13) in the hypervisor\n  error code 0x0\n");
    CHECK(first_two_lines(report(frame(13, 0x18))) ==
          "tandem: EXCEPTION #GP (general protection, vector 13) in the hypervisor\n"
          "  error code 0x18 [selector index 3]\n");
    CHECK(first_two_lines(report(frame(13, 0x6b))) ==
          "tandem: EXCEPTION #GP (general protection, vector 13) in the hypervisor\n"
          "  error code 0x6b [selector index 13 in IDT]\n");
    // Only #PF decodes its error code and prints CR2; #UD has neither.
    std::string ud = report(frame(6, 0));
    CHECK(first_two_lines(ud) == "tandem: EXCEPTION #UD (invalid opcode, vector 6) in the hypervisor\n  error code 0x0\n");
    CHECK(ud.find("at address") == std::string::npos);
    CHECK(ud.find("cr2 0x00000000deadbeef") != std::string::npos);  // CR2 still in the register dump
    CHECK(report(frame(40, 0)).rfind(
              "tandem: EXCEPTION INT (unexpected external interrupt, vector 40) in the hypervisor\n", 0) == 0);
}

TEST_CASE("every register appears with its own value") {
    std::string text = report(frame(8, 0));
    const std::pair<const char*, const char*> regs[] = {
        {"rip", "0000000000201234"}, {"cs", "0000000000000008"},  {"rflags", "0000000000010046"},
        {"rsp", "00000000002f0000"}, {"ss", "0000000000000010"},  {"rbp", "00000000000000b0"},
        {"rax", "00000000000000a0"}, {"rbx", "00000000000000b1"}, {"rcx", "00000000000000c0"},
        {"rdx", "00000000000000d0"}, {"rsi", "0000000000000051"}, {"rdi", "00000000000000d1"},
        {"r8 ", "0000000000000f08"}, {"r9 ", "0000000000000f09"}, {"r10", "0000000000000f10"},
        {"r11", "0000000000000f11"}, {"r12", "0000000000000f12"}, {"r13", "0000000000000f13"},
        {"r14", "0000000000000f14"}, {"r15", "0000000000000f15"}, {"cr0", "0000000080010033"},
        {"cr2", "00000000deadbeef"}, {"cr3", "0000000000300000"}, {"cr4", "0000000000002020"},
    };
    for (const auto& reg : regs) {
        CAPTURE(reg.first);
        CHECK(text.find(std::string(" ") + reg.first + " 0x" + reg.second) != std::string::npos);
    }
}

}  // TEST_SUITE
