// Exit handling (arch-x86_64/vmx/vcpu.cpp, vcpu_msr.cpp) for the instructions a guest executes
// all the time: CPUID, RDMSR/WRMSR, IN/OUT (through the port bus and the 16550 model) and the
// test-guest hypercalls. Each exit is set up in a fake VMCS (vmx_fake_vcpu.hpp) and its effect
// on registers, VMCS fields and the console is checked.
#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "console_fakes.hpp"
#include "guest-boot/test_guest_abi.hpp"
#include "vmx_fake_vcpu.hpp"

using namespace tandem;
using namespace tandem::x86;
using test::kInjectGp;
using test::VcpuRig;
namespace abi = tandem::guest_abi;

namespace {

// The registers CPUID returns for (leaf, subleaf) through the exit handler.
CpuidValues guest_sees(VcpuRig& rig, std::uint32_t leaf, std::uint32_t subleaf = 0) {
    rig.reg(Gpr::rax) = 0xffff'ffff'0000'0000ull | leaf;  // upper halves are not part of the leaf
    rig.reg(Gpr::rcx) = 0xffff'ffff'0000'0000ull | subleaf;
    std::uint64_t rip = rig.rip();
    rig.exit(ExitReason::cpuid, 0, 2);
    CHECK(rig.rip() == rip + 2);
    CHECK(rig.vcpu.running());
    for (Gpr r : {Gpr::rax, Gpr::rbx, Gpr::rcx, Gpr::rdx}) CHECK((rig.reg(r) >> 32) == 0);
    return {static_cast<std::uint32_t>(rig.reg(Gpr::rax)), static_cast<std::uint32_t>(rig.reg(Gpr::rbx)),
            static_cast<std::uint32_t>(rig.reg(Gpr::rcx)), static_cast<std::uint32_t>(rig.reg(Gpr::rdx))};
}

// A device that records what the bus hands it and answers reads with a fixed value.
class RecordingDevice final : public PortIoDevice {
public:
    std::uint32_t read(std::uint16_t port, unsigned size) override {
        last_port = port;
        last_size = size;
        return 0x1122'3344;
    }
    void write(std::uint16_t port, unsigned size, std::uint32_t value) override {
        last_port = port;
        last_size = size;
        last_value = value;
    }
    std::uint16_t last_port = 0;
    unsigned last_size = 0;
    std::uint32_t last_value = 0;
};

std::uint64_t io(std::uint16_t port, unsigned size, bool in) {
    return static_cast<std::uint64_t>(port) << 16 | (size - 1) | (in ? 8u : 0u);
}

}  // namespace

TEST_SUITE("vcpu_exits") {

TEST_CASE("CPUID: filtered leaf 1, RIP advanced by the instruction length, STI blocking ended") {
    VcpuRig rig;
    rig.vmcs.set(vmcs::guest_interruptibility, 0x9);  // blocking by STI and by NMI
    CpuidValues v = guest_sees(rig, 1);
    CHECK(rig.get(vmcs::guest_interruptibility) == 0x8);  // STI blocking ends with the instruction
    CHECK(v.eax == 0x00050654);
    CHECK(v.ebx == 0x00010800);        // APIC ID 0, one logical processor, CLFLUSH size kept
    CHECK((v.ecx & (1u << 5)) == 0);   // VMX hidden
    CHECK((v.ecx & (1u << 31)) != 0);  // hypervisor present
    CHECK((v.ecx & (1u << 27)) == 0);  // OSXSAVE: the guest has not set CR4.OSXSAVE
    CHECK((v.ecx & (1u << 26)) != 0);  // XSAVE itself is offered
    CHECK((v.edx & (1u << 7)) == 0);   // no MCE
    CHECK(rig.vcpu.stats().exits_by_reason[10] == 1);

    // CR4.OSXSAVE is a guest-owned bit: CPUID mirrors the guest's real CR4.
    rig.vmcs.set(vmcs::guest_cr4, rig.get(vmcs::guest_cr4) | (1u << 18));
    CHECK((guest_sees(rig, 1).ecx & (1u << 27)) != 0);
}

TEST_CASE("CPUID: hypervisor leaves, unknown and out-of-range leaves") {
    VcpuRig rig;
    CpuidValues sig = guest_sees(rig, 0x40000000);
    CHECK(sig.eax == 0x40000010);
    std::string vendor(12, ' ');
    for (int i = 0; i < 4; ++i) {
        vendor[static_cast<std::size_t>(i)] = static_cast<char>(sig.ebx >> (8 * i));
        vendor[static_cast<std::size_t>(4 + i)] = static_cast<char>(sig.ecx >> (8 * i));
        vendor[static_cast<std::size_t>(8 + i)] = static_cast<char>(sig.edx >> (8 * i));
    }
    CHECK(vendor == "TandemHyperV");
    CpuidValues timing = guest_sees(rig, 0x40000010);
    CHECK(timing.eax == VcpuRig::kTscKhz);
    CHECK(timing.ebx == 0);
    for (std::uint32_t leaf : {0x40000001u, 0x4000000fu, 0x400000ffu, 0x6u, 0xau, 0xbu, 0x14u, 0x16u, 0x17u, 0x20u,
                               0x80000009u, 0x8000001fu, 0xc0000000u}) {
        CAPTURE(leaf);
        CpuidValues v = guest_sees(rig, leaf);
        CHECK(v.eax == 0);
        CHECK(v.ebx == 0);
        CHECK(v.ecx == 0);
        CHECK(v.edx == 0);
    }
    CHECK(guest_sees(rig, 0).ebx == 0x756e6547);  // vendor passes through
}

TEST_CASE("RDMSR: emulated MSRs; RCX's upper half is ignored") {
    VcpuRig rig;
    struct Case {
        std::uint32_t msr;
        std::uint64_t value;
    };
    rig.platform.tsc = 0x10'0000'0000;
    rig.vmcs.set(vmcs::tsc_offset, ~std::uint64_t{0xfff});  // -0x1000
    rig.vmcs.set(vmcs::guest_pat, 0x0007'0406'0007'0406ull);
    rig.vmcs.set(vmcs::guest_efer, 0xd01);
    for (const Case& c : {Case{0x3a, 1}, Case{0x3b, 0}, Case{0x1a0, 0x1801}, Case{0x17, 0}, Case{0x8b, 0},
                          Case{0x10, 0xf'ffff'f000}, Case{0x277, 0x0007'0406'0007'0406ull}, Case{0xc0000080, 0xd01}}) {
        CAPTURE(c.msr);
        rig.reg(Gpr::rcx) = 0xabcd'0000'0000'0000ull | c.msr;
        rig.reg(Gpr::rax) = rig.reg(Gpr::rdx) = 0x5555'5555'5555'5555ull;
        std::uint64_t rip = rig.rip();
        rig.exit(ExitReason::rdmsr, 0, 2);
        CHECK(rig.reg(Gpr::rax) == (c.value & 0xffffffff));
        CHECK(rig.reg(Gpr::rdx) == c.value >> 32);
        CHECK(rig.rip() == rip + 2);
        CHECK(rig.injects_nothing());
    }
    CHECK(rig.text().empty());
}

TEST_CASE("RDMSR/WRMSR of an MSR tandem does not provide: #GP(0), RIP kept, reported 16 times at most") {
    VcpuRig rig;
    rig.reg(Gpr::rcx) = 0x1234'5678;
    rig.reg(Gpr::rax) = 0x77;
    rig.exit(ExitReason::rdmsr, 0, 2);
    CHECK(rig.injected() == kInjectGp);
    CHECK(rig.injected() == 0x80000b0d);
    CHECK(rig.get(vmcs::entry_exception_error_code) == 0);
    CHECK(rig.vmcs.writes(vmcs::entry_exception_error_code) == 1);
    CHECK(rig.rip() == VcpuRig::kRip);
    CHECK(rig.reg(Gpr::rax) == 0x77);
    CHECK(rig.text() == "vm: guest read MSR 0x12345678, which tandem does not provide: #GP injected\n");

    rig.console.clear();
    rig.reg(Gpr::rdx) = 0xaabb'ccdd;
    rig.reg(Gpr::rax) = 0xffff'ffff'1122'3344ull;
    rig.exit(ExitReason::wrmsr, 0, 2);
    CHECK(rig.injected() == kInjectGp);
    CHECK(rig.rip() == VcpuRig::kRip);
    CHECK(rig.text() ==
          "vm: guest wrote MSR 0x12345678 = 0xaabbccdd11223344, which tandem does not provide: #GP injected\n");

    for (int i = 0; i < 18; ++i) rig.exit(ExitReason::rdmsr, 0, 2);
    CHECK(rig.injected() == kInjectGp);
    CHECK(rig.vcpu.stats().unknown_msr_accesses == 20);
    CHECK(rig.vcpu.stats().injected_exceptions == 20);
    std::string t = rig.text();
    std::size_t lines = 0;
    for (char ch : t) lines += ch == '\n';
    CHECK(lines == 15);  // accesses 2 to 16: the write above and 14 reads; none after the 16th
}

TEST_CASE("WRMSR: TSC into the offset, PAT and EFER checked, MISC_ENABLE fixed") {
    VcpuRig rig;
    auto wrmsr = [&](std::uint32_t msr, std::uint64_t value) {
        rig.reg(Gpr::rcx) = msr;
        rig.reg(Gpr::rax) = 0xdead'beef'0000'0000ull | (value & 0xffffffff);  // upper half of RAX ignored
        rig.reg(Gpr::rdx) = value >> 32;
        std::uint64_t rip = rig.rip();
        rig.exit(ExitReason::wrmsr, 0, 2);
        bool done = rig.rip() == rip + 2;
        CHECK(done == rig.injects_nothing());
        return done;
    };
    rig.platform.tsc = 1000;
    CHECK(wrmsr(0x10, 5000));
    CHECK(rig.get(vmcs::tsc_offset) == 4000);
    CHECK(wrmsr(0x10, 10));
    CHECK(rig.get(vmcs::tsc_offset) == static_cast<std::uint64_t>(-990));

    CHECK(wrmsr(0x277, 0x0106'0504'0007'0406ull));
    CHECK(rig.get(vmcs::guest_pat) == 0x0106'0504'0007'0406ull);
    for (std::uint64_t bad : {0x0002'0000'0000'0000ull, 0x0000'0000'0000'0300ull, 0x0800'0000'0000'0000ull}) {
        CAPTURE(bad);
        CHECK_FALSE(wrmsr(0x277, bad));
        CHECK(rig.injected() == kInjectGp);
        CHECK(rig.get(vmcs::guest_pat) == 0x0106'0504'0007'0406ull);
    }

    // EFER: SCE, LME, NXE taken; LMA stays what the processor made it; other bits #GP.
    CHECK(wrmsr(0xc0000080, 0xd01));
    CHECK(rig.get(vmcs::guest_efer) == 0x901);
    rig.vmcs.set(vmcs::guest_efer, 0x500);
    CHECK(wrmsr(0xc0000080, 0x100));
    CHECK(rig.get(vmcs::guest_efer) == 0x500);
    for (std::uint64_t bad : {1ull << 9, 1ull << 12, 1ull << 14, 1ull << 63}) {
        CAPTURE(bad);
        CHECK_FALSE(wrmsr(0xc0000080, bad | 0x100));
        CHECK(rig.get(vmcs::guest_efer) == 0x500);
    }

    CHECK(wrmsr(0x1a0, 0x1801));
    CHECK_FALSE(wrmsr(0x1a0, 0x1800));
    CHECK(wrmsr(0x8b, 0));
    CHECK(wrmsr(0x3b, 0));  // IA32_TSC_ADJUST: 0 is what it holds
    CHECK(rig.text().empty());
    std::uint64_t offset = rig.get(vmcs::tsc_offset);
    CHECK_FALSE(wrmsr(0x3b, 0x1000));  // moving the TSC through it is refused, and said
    CHECK(rig.get(vmcs::tsc_offset) == offset);
    CHECK(rig.text().find("vm: guest wrote IA32_TSC_ADJUST = 0x1000: tandem keeps it 0") != std::string::npos);
}

// Regression test (bug found and fixed): vcpu_msr.cpp on_wrmsr accepts an EFER write that changes LME while paging is on
// (CR0.PG = 1) and keeps LMA: a 64-bit guest writing EFER = SCE (LME clear) gets LME 0 with LMA
// 1, a guest state the next VM entry rejects (with paging, LME must equal LMA, SDM Vol. 3C
// §27.3.1.1), so the guest is stopped as a failed VM entry. The processor raises #GP(0) for
// such a write (SDM Vol. 3A §5.1.1: LME cannot be modified while CR0.PG = 1).
TEST_CASE("WRMSR EFER: changing LME while paging is on is #GP(0)") {
    VcpuRig rig(guest_boot::EntryMode::long64);
    REQUIRE(rig.get(vmcs::guest_efer) == 0x500);
    rig.reg(Gpr::rcx) = 0xc0000080;
    rig.reg(Gpr::rax) = 0x1;  // SCE; LME cleared
    rig.reg(Gpr::rdx) = 0;
    rig.exit(ExitReason::wrmsr, 0, 2);
    CHECK(rig.injected() == kInjectGp);
    CHECK(rig.get(vmcs::guest_efer) == 0x500);
}

TEST_CASE("I/O: OUT to the UART reaches the console byte for byte") {
    VcpuRig rig;
    for (char c : std::string("hi there\r\n")) {
        rig.reg(Gpr::rax) = 0x1234'5600u | static_cast<unsigned char>(c);  // only AL is written
        rig.exit(ExitReason::io_instruction, io(0x3f8, 1, false), 1);
    }
    CHECK(rig.text() == "hi there\r\n");
    CHECK(rig.rip() == VcpuRig::kRip + 10);
    CHECK(rig.uart.bytes_transmitted() == 10);
}

TEST_CASE("I/O: sizes 1, 2, 4; IN to AL/AX keeps the rest of RAX, IN to EAX zero-extends") {
    VcpuRig rig;
    RecordingDevice dev;
    REQUIRE(rig.bus.attach(0x500, 4, dev).ok());
    const std::uint64_t before = 0xdead'beef'cafe'babeull;
    struct Case {
        unsigned size;
        std::uint64_t after;
    };
    for (const Case& c :
         {Case{1, 0xdead'beef'cafe'ba44ull}, Case{2, 0xdead'beef'cafe'3344ull}, Case{4, 0x1122'3344ull}}) {
        CAPTURE(c.size);
        rig.reg(Gpr::rax) = before;
        rig.exit(ExitReason::io_instruction, io(0x502, c.size, true), 1);
        CHECK(rig.reg(Gpr::rax) == c.after);
        CHECK(dev.last_port == 0x502);
        CHECK(dev.last_size == c.size);
        rig.reg(Gpr::rax) = before;
        rig.exit(ExitReason::io_instruction, io(0x501, c.size, false), 2);
        CHECK(dev.last_port == 0x501);
        CHECK(dev.last_size == c.size);
        CHECK(dev.last_value == (c.size == 4 ? 0xcafe'babeu : c.size == 2 ? 0xbabeu : 0xbeu));
        CHECK(rig.reg(Gpr::rax) == before);
    }
    CHECK(rig.rip() == VcpuRig::kRip + 9);

    // The UART's line status: transmitter empty and idle.
    rig.reg(Gpr::rax) = before;
    rig.exit(ExitReason::io_instruction, io(0x3fd, 1, true), 1);
    CHECK(rig.reg(Gpr::rax) == 0xdead'beef'cafe'ba60ull);

    // No device: all ones, reported once per port.
    rig.reg(Gpr::rax) = before;
    rig.exit(ExitReason::io_instruction, io(0x2f8, 2, true), 1);
    CHECK(rig.reg(Gpr::rax) == 0xdead'beef'cafe'ffffull);
    rig.exit(ExitReason::io_instruction, io(0x2f8, 4, true), 1);
    CHECK(rig.reg(Gpr::rax) == 0xffff'ffffull);
    CHECK(rig.text() == "vm: guest read port 0x02f8: no device there (reads return all ones, writes are dropped)\n");
    CHECK(rig.bus.unclaimed_accesses() == 2);
}

TEST_CASE("I/O: string instructions stop the guest, RIP kept") {
    VcpuRig rig;
    rig.exit(ExitReason::io_instruction, io(0x3f8, 1, false) | 0x30, 2);  // REP OUTSB
    CHECK_FALSE(rig.vcpu.running());
    CHECK(rig.vcpu.end().kind == GuestEnd::Kind::stopped);
    CHECK(std::string(rig.vcpu.end().reason) == "string I/O (INS/OUTS) is not emulated");
    CHECK(rig.rip() == VcpuRig::kRip);
    CHECK(rig.text().rfind("vm: guest stopped: string I/O (INS/OUTS) is not emulated\n"
                           "vm:   exit reason 30 (I/O instruction), qualification 0x3f80030\n",
                           0) == 0);
}

TEST_CASE("VMCALL print: the guest's buffer on the console, control characters shown as '.'") {
    VcpuRig rig;
    rig.put_string(0x2000, std::string("hello\x01world\x7f", 12));
    rig.reg(Gpr::rax) = abi::kHypercallPrint;
    rig.reg(Gpr::rbx) = 0x2000;
    rig.reg(Gpr::rcx) = 12;
    rig.exit(ExitReason::vmcall, 0, 3);
    CHECK(rig.text() == "guest (hypercall): hello.world.\n");
    CHECK(rig.reg(Gpr::rax) == 0);
    CHECK(rig.rip() == VcpuRig::kRip + 3);

    // Longer than one 256-byte piece, and the largest allowed length.
    std::string long_text(4096, 'x');
    long_text[300] = 'y';
    rig.put_string(0x3000, long_text);
    rig.console.clear();
    rig.reg(Gpr::rax) = abi::kHypercallPrint;
    rig.reg(Gpr::rbx) = 0x3000;
    rig.reg(Gpr::rcx) = 4096;
    rig.exit(ExitReason::vmcall, 0, 3);
    CHECK(rig.text() == "guest (hypercall): " + long_text + "\n");

    // Outside guest RAM, or too long: an error in RAX, nothing printed.
    const std::pair<std::uint64_t, std::uint64_t> bad[] = {
        {VcpuRig::kRamSize - 4, 8}, {0x3000, 4097}, {~std::uint64_t{0}, 2}, {0x10, ~std::uint64_t{0}}};
    for (auto [gpa, length] : bad) {
        rig.console.clear();
        rig.reg(Gpr::rax) = abi::kHypercallPrint;
        rig.reg(Gpr::rbx) = gpa;
        rig.reg(Gpr::rcx) = length;
        std::uint64_t rip = rig.rip();
        rig.exit(ExitReason::vmcall, 0, 3);
        CHECK(rig.reg(Gpr::rax) == abi::kHypercallBadAddress);
        CHECK(rig.text().empty());
        CHECK(rig.rip() == rip + 3);
    }
}

TEST_CASE("VMCALL exit, clock, unknown; from CPL 3 it is #UD") {
    VcpuRig rig;
    rig.platform.tsc = 1'000'000;
    rig.vmcs.set(vmcs::tsc_offset, 500);
    rig.reg(Gpr::rax) = 0xffff'ffff'0000'0000ull | abi::kHypercallClock;  // the function is EAX
    rig.exit(ExitReason::vmcall, 0, 3);
    CHECK(rig.reg(Gpr::rax) == 1'000'500);
    CHECK(rig.reg(Gpr::rbx) == VcpuRig::kTscKhz);
    CHECK(rig.rip() == VcpuRig::kRip + 3);

    rig.reg(Gpr::rax) = 0x5444'0009;
    rig.exit(ExitReason::vmcall, 0, 3);
    CHECK(rig.reg(Gpr::rax) == abi::kHypercallUnknown);
    CHECK(rig.rip() == VcpuRig::kRip + 6);
    CHECK(rig.vcpu.running());

    // User mode (SS.DPL = 3): VMCALL is undefined for it.
    rig.vmcs.set(vmcs::guest_ss_access, 0xc0f3);
    rig.reg(Gpr::rax) = abi::kHypercallExit;
    rig.exit(ExitReason::vmcall, 0, 3);
    CHECK(rig.injected() == test::kInjectUd);
    CHECK(rig.vcpu.running());
    CHECK(rig.rip() == VcpuRig::kRip + 6);
    CHECK(rig.reg(Gpr::rax) == abi::kHypercallExit);

    rig.vmcs.set(vmcs::guest_ss_access, 0xc093);
    rig.reg(Gpr::rbx) = 42;
    rig.exit(ExitReason::vmcall, 0, 3);
    CHECK_FALSE(rig.vcpu.running());
    CHECK(rig.vcpu.end().kind == GuestEnd::Kind::exited);
    CHECK(rig.vcpu.end().exit_code == 42);
    CHECK(rig.rip() == VcpuRig::kRip + 6);
    CHECK(rig.text().empty());
    CHECK(rig.vcpu.stats().exits_by_reason[18] == 4);
}

TEST_CASE("the print hypercall never waits behind a full console: the line is dropped whole and counted") {
    VcpuRig rig;
    test::ConsoleRig console(8192);
    console.console.set_buffered(true);
    console.port.room = 0;
    rig.vcpu.set_guest_console(console.console.guest_lines());
    rig.put_string(0x3000, std::string(4096, 'x'));
    for (int i = 0; i < 3; ++i) {
        rig.reg(Gpr::rax) = abi::kHypercallPrint;
        rig.reg(Gpr::rbx) = 0x3000;
        rig.reg(Gpr::rcx) = 4096;
        rig.exit(ExitReason::vmcall, 0, 3);
        CHECK(rig.reg(Gpr::rax) == 0);
        CHECK(rig.vcpu.running());
    }
    CHECK(console.port.waited == 0);
    CHECK(console.port.sent.empty());
    CHECK(console.console.dropped_lines() == 2);  // 8 KiB hold one 4 KiB line beside the reserve
    CHECK(console.console.dropped_bytes() == 2 * (19 + 4096 + 1));
    CHECK(rig.text().empty());  // the vCPU's own console got nothing
    console.port.room = 16;
    console.drain_all();
    CHECK(console.port.sent.find("|tandem| guest (hypercall): " + std::string(4096, 'x') + "\r\n") == 0);
    CHECK(console.port.sent.find("|tandem| tandem: console: 8232 bytes (2 lines) of guest output dropped") != std::string::npos);
}

}  // TEST_SUITE
