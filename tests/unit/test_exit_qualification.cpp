// Exit-information decoders (arch-x86_64/vmx/exit_qualification.hpp, exit_reason.hpp) against
// values built by hand from the SDM's tables (Vol. 3C §28.2.1 Tables 28-3, 28-5, 28-7;
// §28.2.2 and §26.8.3 for interruption information; Vol. 3D Appendix C for reasons).
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "arch-x86_64/vmx/exit_qualification.hpp"
#include "arch-x86_64/vmx/exit_reason.hpp"

using namespace tandem::x86;

TEST_SUITE("exit_qualification") {

TEST_CASE("control-register accesses: CR number, access type, GPR, LMSW source") {
    // MOV CR0, RAX: CR 0, type 0, GPR 0.
    CrAccess mov_cr0{0x0};
    CHECK(mov_cr0.cr() == 0);
    CHECK(mov_cr0.type() == CrAccess::Type::mov_to_cr);
    CHECK(mov_cr0.gpr() == 0);
    // MOV CR4, R15.
    CrAccess mov_cr4{0x0f04};
    CHECK(mov_cr4.cr() == 4);
    CHECK(mov_cr4.type() == CrAccess::Type::mov_to_cr);
    CHECK(mov_cr4.gpr() == 15);
    // MOV RBX, CR3: type 1 (bits 5:4), GPR 3 (bits 11:8).
    CrAccess mov_from_cr3{0x0313};
    CHECK(mov_from_cr3.cr() == 3);
    CHECK(mov_from_cr3.type() == CrAccess::Type::mov_from_cr);
    CHECK(mov_from_cr3.gpr() == 3);
    // MOV CR8, RSP.
    CrAccess mov_cr8{0x0408};
    CHECK(mov_cr8.cr() == 8);
    CHECK(mov_cr8.gpr() == 4);
    // CLTS: type 2.
    CHECK(CrAccess{0x20}.type() == CrAccess::Type::clts);
    CHECK(CrAccess{0x20}.cr() == 0);
    // LMSW from memory (bit 6) with source data 0x000b in bits 31:16; bits 63:32 are not part of it.
    CrAccess lmsw{0xffff'ffff'000b'0070ull};
    CHECK(lmsw.type() == CrAccess::Type::lmsw);
    CHECK(lmsw.cr() == 0);
    CHECK(lmsw.lmsw_source() == 0x000b);
    CHECK(CrAccess{0xfffe'0030}.lmsw_source() == 0xfffe);
}

TEST_CASE("I/O instructions: size, direction, string, REP, port") {
    // OUT DX, AL with DX = 0x3f8.
    IoAccess out_al{0x03f8'0000};
    CHECK(out_al.size() == 1);
    CHECK_FALSE(out_al.in());
    CHECK_FALSE(out_al.string());
    CHECK_FALSE(out_al.rep());
    CHECK(out_al.port() == 0x3f8);
    // IN AX, DX with DX = 0x1f0: size encoding 1 = 2 bytes, bit 3 = IN.
    IoAccess in_ax{0x01f0'0009};
    CHECK(in_ax.size() == 2);
    CHECK(in_ax.in());
    CHECK(in_ax.port() == 0x1f0);
    // IN EAX, 0x71 (immediate operand, bit 6): size encoding 3 = 4 bytes.
    IoAccess in_eax{0x0071'004b};
    CHECK(in_eax.size() == 4);
    CHECK(in_eax.in());
    CHECK_FALSE(in_eax.string());
    CHECK(in_eax.port() == 0x71);
    // REP INSW from 0x1f0: string (bit 4), REP (bit 5).
    IoAccess rep_insw{0x01f0'0039};
    CHECK(rep_insw.size() == 2);
    CHECK(rep_insw.in());
    CHECK(rep_insw.string());
    CHECK(rep_insw.rep());
    // OUTSB to 0xffff without REP; bits 63:32 play no part in the port.
    IoAccess outsb{0xdead'beef'ffff'0010ull};
    CHECK(outsb.size() == 1);
    CHECK_FALSE(outsb.in());
    CHECK(outsb.string());
    CHECK_FALSE(outsb.rep());
    CHECK(outsb.port() == 0xffff);
}

TEST_CASE("EPT violations: each qualification bit maps to its accessor") {
    struct Bit {
        unsigned bit;
        bool (EptViolation::*accessor)() const;
    };
    const Bit bits[] = {{0, &EptViolation::read},           {1, &EptViolation::write},
                        {2, &EptViolation::fetch},          {3, &EptViolation::was_readable},
                        {4, &EptViolation::was_writable},   {5, &EptViolation::was_executable},
                        {7, &EptViolation::linear_address_valid}, {8, &EptViolation::final_translation},
                        {12, &EptViolation::nmi_unblocking}};
    for (unsigned set = 0; set < 16; ++set) {
        CAPTURE(set);
        EptViolation v{1ull << set};
        for (const Bit& b : bits) CHECK((v.*(b.accessor))() == (b.bit == set));
    }
    // What Bochs reported for a guest writing outside its RAM through its page tables:
    // write, linear address valid, access to the final translation.
    EptViolation escape{0x182};
    CHECK(escape.write());
    CHECK_FALSE(escape.read());
    CHECK_FALSE(escape.fetch());
    CHECK(escape.linear_address_valid());
    CHECK(escape.final_translation());
    CHECK_FALSE(escape.was_readable());
    // A fetch from a read-only, non-executable page during a page walk (bit 8 clear).
    EptViolation fetch{0x8c};
    CHECK(fetch.fetch());
    CHECK(fetch.was_readable());
    CHECK_FALSE(fetch.was_executable());
    CHECK_FALSE(fetch.final_translation());
}

TEST_CASE("interruption information: vector, type, error code, valid; injection encodings") {
    InterruptionInfo pf{0x8000'0b0e};  // #PF, hardware exception, error code
    CHECK(pf.vector() == 14);
    CHECK(pf.type() == InterruptionInfo::Type::hardware_exception);
    CHECK(pf.has_error_code());
    CHECK(pf.valid());
    InterruptionInfo nmi{0x8000'0202};
    CHECK(nmi.vector() == 2);
    CHECK(nmi.type() == InterruptionInfo::Type::nmi);
    CHECK_FALSE(nmi.has_error_code());
    InterruptionInfo irq{0x8000'0030};
    CHECK(irq.type() == InterruptionInfo::Type::external_interrupt);
    CHECK(irq.vector() == 0x30);
    CHECK(InterruptionInfo{0x8000'0603}.type() == InterruptionInfo::Type::software_exception);  // INT3
    CHECK(InterruptionInfo{0x8000'0480}.type() == InterruptionInfo::Type::software_interrupt);  // INT 0x80
    CHECK(InterruptionInfo{0x8000'0501}.type() == InterruptionInfo::Type::privileged_software_exception);  // INT1
    CHECK(InterruptionInfo{0x8000'0700}.type() == InterruptionInfo::Type::other_event);
    // Bit 12 (NMI unblocking due to IRET) is neither part of the type nor the error-code flag.
    InterruptionInfo unblocking{0x8000'1b0d};
    CHECK(unblocking.vector() == 13);
    CHECK(unblocking.type() == InterruptionInfo::Type::hardware_exception);
    CHECK(unblocking.has_error_code());
    CHECK_FALSE(InterruptionInfo{0x0000'0b0e}.valid());

    CHECK(InterruptionInfo::hardware_exception(13, true).raw == 0x8000'0b0d);
    CHECK(InterruptionInfo::hardware_exception(6, false).raw == 0x8000'0306);
    CHECK(InterruptionInfo::hardware_exception(17, true).raw == 0x8000'0b11);
    CHECK(InterruptionInfo::external(0x30).raw == 0x8000'0030);
}

TEST_CASE("exit-reason field: basic reason and the VM-entry failure bit") {
    ExitReasonField failed{0x8000'0021};
    CHECK(failed.basic() == ExitReason::entry_failure_guest_state);
    CHECK(failed.entry_failure());
    ExitReasonField ept{0x30};
    CHECK(ept.basic() == ExitReason::ept_violation);
    CHECK_FALSE(ept.entry_failure());
    // Bits 27-30 (enclave, pending MTF, from VMX root) do not change the basic reason.
    ExitReasonField flagged{0x7800'000a};
    CHECK(flagged.basic() == ExitReason::cpuid);
    CHECK_FALSE(flagged.entry_failure());
}

TEST_CASE("exit reason names: every defined reason named, gaps and new reasons 'unknown'") {
    std::set<std::string> names;
    const std::set<unsigned> gaps = {35, 38, 42};
    for (unsigned r = 0; r <= 64; ++r) {
        CAPTURE(r);
        std::string name = exit_reason_name(static_cast<ExitReason>(r));
        if (gaps.count(r)) {
            CHECK(name == "unknown");
        } else {
            CHECK(name != "unknown");
            CHECK(names.insert(name).second);  // no two reasons share a name
        }
    }
    for (unsigned r : {65u, 70u, 77u, 0xffffu})
        CHECK(std::string(exit_reason_name(static_cast<ExitReason>(r))) == "unknown");
    CHECK(std::string(exit_reason_name(ExitReason::ept_violation)) == "EPT violation");
    CHECK(std::string(exit_reason_name(ExitReason::task_switch)) == "task switch");
    CHECK(std::string(exit_reason_name(ExitReason::preemption_timer)) == "VMX-preemption timer expired");

    CHECK(std::string(vm_instruction_error_name(7)) == "VM entry with invalid control field(s)");
    CHECK(std::string(vm_instruction_error_name(8)) == "VM entry with invalid host-state field(s)");
    CHECK(std::string(vm_instruction_error_name(28)) == "invalid operand to INVEPT/INVVPID");
    for (std::uint32_t e : {0u, 14u, 21u, 27u, 29u, 1000u}) {
        CHECK(std::string(vm_instruction_error_name(e)) == "unknown VM-instruction error");
    }
}

}  // TEST_SUITE
