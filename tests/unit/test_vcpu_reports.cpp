// Exits that stop the guest with a report (arch-x86_64/vmx/vcpu.cpp, vcpu_report.cpp): the
// EPT violation an escaping guest causes, every exit reason the handler does not handle
// (each triggered on purpose here), and failed VM entries. Report text is checked line by line.
#include <doctest/doctest.h>

#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "helpers.hpp"
#include "vmx_fake_vcpu.hpp"

using namespace tandem;
using namespace tandem::x86;
using guest_boot::EntryMode;
using test::VcpuRig;

namespace {

// Reasons vcpu.cpp's switch in handle_exit has a case for (cross-checked against the source below).
const std::set<unsigned> kHandled = {0,  1,  2,  3,  7,  10, 11, 12, 13, 15, 18, 19, 20, 21, 22, 23, 24, 25,
                                     26, 27, 28, 30, 31, 32, 36, 39, 48, 49, 50, 52, 53, 54, 55, 59, 62};

const std::map<unsigned, std::string> kUnhandledNames = {
    {4, "start-up IPI"}, {5, "I/O SMI"}, {6, "other SMI"}, {8, "NMI window"}, {9, "task switch"}, {14, "INVLPG"},
    {16, "RDTSC"}, {17, "RSM"}, {29, "debug-register access"}, {33, "VM-entry failure: invalid guest state"},
    {34, "VM-entry failure: MSR loading"}, {35, "unknown"}, {37, "monitor trap flag"}, {38, "unknown"},
    {40, "PAUSE"}, {41, "VM-entry failure: machine check"}, {42, "unknown"}, {43, "TPR below threshold"},
    {44, "APIC access"}, {45, "virtualized EOI"}, {46, "GDTR/IDTR access"}, {47, "LDTR/TR access"}, {51, "RDTSCP"},
    {56, "APIC write"}, {57, "RDRAND"}, {58, "INVPCID"}, {60, "ENCLS"}, {61, "RDSEED"},
    {63, "XSAVES"}, {64, "XRSTORS"}, {65, "unknown"}, {66, "unknown"},
    {67, "unknown"}, {68, "unknown"}, {69, "unknown"}, {70, "unknown"}};

const std::vector<std::uint8_t> kCode = {0x89, 0x08, 0xbf, 0x7f, 0x07, 0x10, 0x00, 0xe8,
                                         0x47, 0xf9, 0xff, 0xff, 0xb8, 0x03, 0x00, 0x11};

// Registers with recognisable values; the guest's code at RIP.
void prepare(VcpuRig& rig) {
    for (unsigned i = 0; i < 16; ++i) rig.vcpu.regs().gpr[i] = i == 4 ? 0 : 0xa000'0000'0000'0000ull | (0x1111ull * i);
    rig.vcpu.regs().cr2 = 0xcafe;
    rig.put_bytes(VcpuRig::kRip, kCode);
}

// Everything after the exit lines, for the protected-mode guest of prepare().
const std::string kProtectedTail =
    "vm:   rip 0x0000000000001000 cs 0x0008 (base 0x0) rsp 0x0000000000008000 rflags 0x2 [protected mode]\n"
    "vm:   rax 0xa000000000000000 rcx 0xa000000000001111 rdx 0xa000000000002222 rbx 0xa000000000003333\n"
    "vm:   rsp 0x0000000000008000 rbp 0xa000000000005555 rsi 0xa000000000006666 rdi 0xa000000000007777\n"
    "vm:   r8  0xa000000000008888 r9  0xa000000000009999 r10 0xa00000000000aaaa r11 0xa00000000000bbbb\n"
    "vm:   r12 0xa00000000000cccc r13 0xa00000000000dddd r14 0xa00000000000eeee r15 0xa00000000000ffff\n"
    "vm:   cr0 0x31 (guest view 0x11) cr2 0xcafe cr3 0x0 cr4 0x2000 (guest view 0x0) efer 0x0\n"
    "vm:   instruction bytes at guest-physical 0x1000: 89:08:bf:7f:07:10:00:e8:47:f9:ff:ff:b8:03:00\n";

std::string hex_text(std::uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
}

// The last line of the report (the instruction bytes, or why there are none).
std::string last_line(const std::string& text) {
    std::size_t end = text.size() - 1;
    return text.substr(text.rfind('\n', end - 1) + 1);
}

// Long-mode page tables: linear 0x400000 -> physical 0x7000 (one 4 KiB page); nothing else.
void map_one_page(VcpuRig& rig) {
    REQUIRE(rig.memory.store<std::uint64_t>(0x3000, 0x4003).ok());
    REQUIRE(rig.memory.store<std::uint64_t>(0x4000, 0x5003).ok());
    REQUIRE(rig.memory.store<std::uint64_t>(0x5000 + 8 * 2, 0x6003).ok());
    REQUIRE(rig.memory.store<std::uint64_t>(0x6000, 0x7003).ok());
}

}  // namespace

TEST_SUITE("vcpu_reports") {

TEST_CASE("EPT violation: stopped with the guest-physical address, the access and the full report") {
    VcpuRig rig;
    prepare(rig);
    rig.vmcs.set(vmcs::guest_physical_address, 0x800'0000);
    rig.vmcs.set(vmcs::guest_linear_address, 0x800'0000);
    rig.exit(ExitReason::ept_violation, 0x182, 2);
    CHECK_FALSE(rig.vcpu.running());
    CHECK(std::string(rig.vcpu.end().reason) ==
          "EPT violation: the guest accessed guest-physical memory outside its RAM");
    CHECK(rig.text() ==
          "vm: guest stopped: EPT violation: the guest accessed guest-physical memory outside its RAM\n"
          "vm:   exit reason 48 (EPT violation), qualification 0x182\n"
          "vm:   guest-physical address 0x8000000 (write), guest-linear 0x8000000\n" +
              kProtectedTail);
    CHECK(rig.rip() == VcpuRig::kRip);
    CHECK(rig.injects_nothing());

    VcpuRig read;
    read.vmcs.set(vmcs::guest_physical_address, 0xfee0'0000);
    read.exit(ExitReason::ept_violation, 0x81);  // read, during a page walk
    CHECK(read.text().find("\nvm:   guest-physical address 0xfee00000 (read), guest-linear 0x0\n") !=
          std::string::npos);
    VcpuRig fetch;
    fetch.vmcs.set(vmcs::guest_physical_address, 0x1'0000'0000);
    fetch.exit(ExitReason::ept_violation, 0x4);  // instruction fetch, no linear address
    CHECK(fetch.text().find("\nvm:   guest-physical address 0x100000000 (instruction fetch)\n") != std::string::npos);
}

// Regression test (bug found and fixed): vcpu_report.cpp prints the access kinds of an EPT violation back to back: a
// qualification with both read and write set (a read-modify-write instruction such as
// "lock add [mem], 1" reports both, SDM Vol. 3C Table 28-7) reads "(readwrite)", and read plus
// fetch "(readinstruction fetch)". They need a separator.
TEST_CASE("EPT violation report: several access kinds are separated") {
    VcpuRig rig;
    rig.vmcs.set(vmcs::guest_physical_address, 0x800'0000);
    rig.exit(ExitReason::ept_violation, 0x3);
    CHECK(rig.text().find("vm:   guest-physical address 0x8000000 (read") != std::string::npos);
    CHECK(rig.text().find("readwrite") == std::string::npos);
    VcpuRig fetch;
    fetch.vmcs.set(vmcs::guest_physical_address, 0x800'0000);
    fetch.exit(ExitReason::ept_violation, 0x5);
    CHECK(fetch.text().find("readinstruction") == std::string::npos);
}

TEST_CASE("every exit reason 0-70 the handler does not handle stops the guest with a full report") {
    unsigned stopped = 0;
    for (unsigned reason = 0; reason <= 70; ++reason) {
        if (kHandled.count(reason)) continue;
        CAPTURE(reason);
        REQUIRE(kUnhandledNames.count(reason) == 1);
        VcpuRig rig;
        prepare(rig);
        std::uint64_t qualification = 0x1000 + reason;
        rig.exit(reason, qualification, 3);
        CHECK_FALSE(rig.vcpu.running());
        CHECK(rig.vcpu.end().kind == GuestEnd::Kind::stopped);
        CHECK(std::string(rig.vcpu.end().reason) == "unhandled VM exit");
        CHECK(rig.text() == "vm: guest stopped: unhandled VM exit\n"
                            "vm:   exit reason " + std::to_string(reason) + " (" + kUnhandledNames.at(reason) +
                                "), qualification " + hex_text(qualification) + "\n" + kProtectedTail);
        CHECK(rig.rip() == VcpuRig::kRip);
        CHECK(rig.injects_nothing());
        CHECK(rig.vcpu.stats().exits_by_reason[reason] == 1);
        ++stopped;
    }
    CHECK(stopped == 71 - kHandled.size());
    CHECK(stopped == kUnhandledNames.size());

    // And no handled reason ends up there.
    for (unsigned reason : kHandled) {
        CAPTURE(reason);
        VcpuRig rig;
        rig.exit(reason);
        CHECK(rig.text().find("unhandled VM exit") == std::string::npos);
    }
}

TEST_CASE("the handled set above is the one in vcpu.cpp's switch") {
    std::string enum_text = test::read_text_fixture("../../../arch-x86_64/vmx/exit_reason.hpp");
    std::map<std::string, unsigned> numbers;
    std::regex enumerator(R"((\w+) = (\d+),)");
    for (auto it = std::sregex_iterator(enum_text.begin(), enum_text.end(), enumerator); it != std::sregex_iterator();
         ++it) {
        numbers[(*it)[1]] = static_cast<unsigned>(std::stoul((*it)[2]));
    }
    REQUIRE(numbers.size() == 62);
    std::string source = test::read_text_fixture("../../../arch-x86_64/vmx/vcpu.cpp");
    std::size_t from = source.find("switch (reason_)");
    std::size_t to = source.find("default:", from);
    REQUIRE(from != std::string::npos);
    REQUIRE(to != std::string::npos);
    std::string cases = source.substr(from, to - from);
    std::set<unsigned> handled;
    std::regex label(R"(case ExitReason::(\w+):)");
    for (auto it = std::sregex_iterator(cases.begin(), cases.end(), label); it != std::sregex_iterator(); ++it) {
        REQUIRE(numbers.count((*it)[1]) == 1);
        handled.insert(numbers.at((*it)[1]));
    }
    CHECK(handled == kHandled);
}

TEST_CASE("a failed VM entry (bit 31) stops the guest; nothing is re-injected") {
    struct Case {
        std::uint32_t raw;
        std::uint64_t qualification;
        std::string line;
    };
    for (const Case& c : {Case{0x8000'0021, 0, "vm:   exit reason 33 (VM-entry failure: invalid guest state) "
                                               "[VM-entry failure], qualification 0x0"},
                          Case{0x8000'0022, 2, "vm:   exit reason 34 (VM-entry failure: MSR loading) "
                                               "[VM-entry failure], qualification 0x2"},
                          Case{0x8000'0029, 0, "vm:   exit reason 41 (VM-entry failure: machine check) "
                                               "[VM-entry failure], qualification 0x0"}}) {
        CAPTURE(c.raw);
        VcpuRig rig;
        prepare(rig);
        rig.vmcs.set(vmcs::guest_physical_address, 0x1234);
        rig.exit(c.raw, c.qualification, 0, 0x8000'0b0e);  // even with an event in delivery
        CHECK_FALSE(rig.vcpu.running());
        CHECK(std::string(rig.vcpu.end().reason) == "VM entry failed: the guest state was rejected");
        CHECK(rig.text() == "vm: guest stopped: VM entry failed: the guest state was rejected\n" + c.line + "\n" +
                                kProtectedTail);
        CHECK(rig.vmcs.fields_written() == 0);
    }
}

TEST_CASE("instruction bytes: through the guest's page tables, to the page end, or why not") {
    VcpuRig lm(EntryMode::long64);
    map_one_page(lm);
    lm.put_bytes(0x7ff8, {0x0f, 0x01, 0xc1, 0x90, 0x90, 0xcc, 0xeb, 0xfe});
    lm.vmcs.set(vmcs::guest_rip, 0x40'0ff8);
    lm.exit(9u);
    CHECK(lm.text().find("rsp 0x0000000000008000 rflags 0x2 [64-bit mode]\n") != std::string::npos);
    CHECK(last_line(lm.text()) == "vm:   instruction bytes at guest-physical 0x7ff8: 0f:01:c1:90:90:cc:eb:fe\n");

    VcpuRig unmapped(EntryMode::long64);
    map_one_page(unmapped);
    unmapped.vmcs.set(vmcs::guest_rip, 0x80'0000);
    unmapped.exit(9u);
    CHECK(last_line(unmapped.text()) ==
          "vm:   instruction bytes: unreadable (guest page walk: not present at linear address (0x800000))\n");

    VcpuRig tables_outside(EntryMode::long64);
    tables_outside.vmcs.set(vmcs::guest_cr3, 0x20'0000);  // past the 1 MiB of guest RAM
    tables_outside.exit(9u);
    CHECK(last_line(tables_outside.text()) ==
          "vm:   instruction bytes: unreadable (guest memory: access outside guest RAM (0x1000))\n");

    VcpuRig compat(EntryMode::long64);
    map_one_page(compat);
    compat.vmcs.set(vmcs::guest_cs_access, 0xc09b);
    compat.vmcs.set(vmcs::guest_rip, 0x40'0000);
    compat.exit(9u);
    CHECK(compat.text().find("[compatibility mode]\n") != std::string::npos);
    CHECK(compat.text().find("instruction bytes at guest-physical 0x7000: ") != std::string::npos);

    VcpuRig real(EntryMode::real16);
    prepare(real);
    real.exit(9u);
    CHECK(real.text().find("vm:   rip 0x0000000000000100 cs 0x00f0 (base 0xf00) rsp 0x0000000000008000 rflags 0x2 "
                           "[real mode]\n") != std::string::npos);
    CHECK(last_line(real.text()) ==
          "vm:   instruction bytes at guest-physical 0x1000: 89:08:bf:7f:07:10:00:e8:47:f9:ff:ff:b8:03:00\n");

    VcpuRig outside;
    outside.vmcs.set(vmcs::guest_rip, VcpuRig::kRamSize);
    outside.exit(9u);
    CHECK(last_line(outside.text()) == "vm:   instruction bytes: guest-physical 0x100000 is outside guest RAM\n");
    VcpuRig at_end;
    at_end.put_bytes(VcpuRig::kRamSize - 3, {0xf4, 0xeb, 0xfd});
    at_end.vmcs.set(vmcs::guest_rip, VcpuRig::kRamSize - 3);
    at_end.exit(9u);
    CHECK(last_line(at_end.text()) == "vm:   instruction bytes at guest-physical 0xffffd: f4:eb:fd\n");
}

// Regression test (bug found and fixed): vcpu_report.cpp prints the CR0/CR4 read shadows as the "guest view". Only the bits in
// the guest/host masks come from the shadows; the guest's own bits (PE, PG, CD, NW, PAE, ...)
// are in GUEST_CR0/GUEST_CR4, and the guest changes them without an exit. The Bochs run of
// exits32 shows it: "cr0 0x60000031 (guest view 0x11)" for a guest whose CR0 was 0x60000011.
TEST_CASE("report: the guest view of CR0/CR4 combines register and shadow by the masks") {
    VcpuRig rig;
    rig.vmcs.set(vmcs::guest_cr0, 0x6000'0031);
    rig.vmcs.set(vmcs::guest_cr4, 0x2020);
    rig.exit(9u);
    CHECK(rig.text().find("vm:   cr0 0x60000031 (guest view 0x60000011) cr2 0x0 cr3 0x0 cr4 0x2020 (guest view 0x20) "
                          "efer 0x0\n") != std::string::npos);
}

}  // TEST_SUITE
