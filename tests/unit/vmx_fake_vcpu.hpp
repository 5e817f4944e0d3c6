// A Vcpu wired to fakes, for driving exit handling on the host: a fake VMCS holding the state a
// guest entered with (write_guest_entry_state, with skylake_x's controls and CR fixed bits), a
// fake platform (CPUID table, TSC, XSETBV recorder), 1 MiB of guest RAM over a host buffer, and
// a port-I/O bus with the 16550 model, all printing into one BufferWriter console.
//
// exit() does what the processor does on a VM exit as far as the handler can see it: it fills
// the exit-information fields and clears the valid bit of the VM-entry interruption
// information (SDM Vol. 3C §28.2), then calls handle_exit().
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "arch-x86_64/vmx/exit_reason.hpp"
#include "arch-x86_64/vmx/guest_entry.hpp"
#include "arch-x86_64/vmx/vcpu.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/devices/port_io.hpp"
#include "hypervisor/devices/uart16550_model.hpp"
#include "vmx_fake_host_memory.hpp"
#include "vmx_fake_msrs.hpp"
#include "vmx_fake_platform.hpp"
#include "vmx_fake_vmcs.hpp"

namespace test {

struct VcpuRig {
    static constexpr std::uint64_t kRamHpa = 0x4000'0000;
    static constexpr std::uint64_t kRamSize = 1ull << 20;
    static constexpr std::uint64_t kRip = 0x1000;
    static constexpr std::uint64_t kRsp = 0x8000;
    static constexpr std::uint32_t kTscKhz = 49996;
    static constexpr std::uint64_t kTimerReload = 499960;
    // Controls tandem computes for skylake_x (test_vmx_controls.cpp checks these values).
    static constexpr std::uint32_t kPrimary = 0xb6006dfa, kEntry = 0xd1ff;

    static tandem::x86::VcpuConfig default_config() {
        tandem::x86::VcpuConfig c;
        c.cpuid.tsc_khz = kTscKhz;
        c.cpuid.rdtscp = true;
        c.cpuid.invpcid = true;
        c.cpuid.xsaves = true;
        c.cr = tandem::x86::cr_policy(bochs_msrs("corei7_skylake_x"));
        c.preemption_timer_reload = kTimerReload;
        c.supported_xcr0 = FakePlatform::kSkylakeXcr0;
        return c;
    }

    VectorHostMemory host{kRamHpa, kRamSize};
    tandem::GuestMemory memory{host};
    FakeVmcs vmcs;
    FakePlatform platform;
    std::vector<char> console_buffer = std::vector<char>(1 << 16);
    tandem::BufferWriter console{console_buffer.data(), console_buffer.size()};
    tandem::PortIoBus bus{console};
    tandem::Uart16550Model uart{console};
    tandem::x86::Vcpu vcpu;

    explicit VcpuRig(tandem::guest_boot::EntryMode mode = tandem::guest_boot::EntryMode::protected32,
                     const tandem::x86::VcpuConfig& config = default_config())
        : vcpu(vmcs, memory, bus, platform, console, config) {
        namespace vmcs_f = tandem::x86::vmcs;
        REQUIRE(memory.append(kRamHpa, kRamSize).ok());
        REQUIRE(bus.attach(tandem::Uart16550Model::kBase, tandem::Uart16550Model::kPorts, uart).ok());
        vmcs.set(vmcs_f::primary_controls, kPrimary);
        vmcs.set(vmcs_f::entry_controls, kEntry);
        tandem::x86::GuestEntry e;
        e.mode = mode;
        e.rip = mode == tandem::guest_boot::EntryMode::real16 ? 0x100 : kRip;
        e.real_segment = 0xf0;  // real mode: CS base 0xf00, so CS:IP = 0xf00 + 0x100 = kRip
        e.rsp = kRsp;
        e.rdi = 0x2000;
        e.rsi = kRamSize;
        e.cr3 = 0x3000;
        tandem::x86::write_guest_entry_state(vmcs, vcpu.regs(), e, config.cr);
        vmcs.forget_writes();
    }

    // One VM exit with the given exit-information fields.
    void exit(std::uint32_t raw_reason, std::uint64_t qualification = 0, std::uint32_t instruction_length = 0,
              std::uint32_t idt_vectoring = 0) {
        namespace vmcs_f = tandem::x86::vmcs;
        vmcs.set(vmcs_f::exit_reason, raw_reason);
        vmcs.set(vmcs_f::exit_qualification, qualification);
        vmcs.set(vmcs_f::exit_instruction_length, instruction_length);
        vmcs.set(vmcs_f::idt_vectoring_info, idt_vectoring);
        vmcs.set(vmcs_f::entry_interruption_info, vmcs.read(vmcs_f::entry_interruption_info) & 0x7fffffffu);
        vmcs.forget_writes();
        vcpu.handle_exit();
    }
    void exit(tandem::x86::ExitReason reason, std::uint64_t qualification = 0, std::uint32_t instruction_length = 0) {
        exit(static_cast<std::uint32_t>(reason), qualification, instruction_length);
    }

    std::uint64_t& reg(tandem::x86::Gpr r) { return vcpu.regs()[r]; }
    std::uint64_t get(tandem::x86::VmcsField f) const { return vmcs.read(f); }
    std::uint64_t rip() const { return vmcs.read(tandem::x86::vmcs::guest_rip); }
    // The event the next VM entry injects (0 when none).
    std::uint64_t injected() const { return vmcs.read(tandem::x86::vmcs::entry_interruption_info); }
    bool injects_nothing() const { return (injected() >> 31) == 0; }
    std::string text() const { return std::string(console.view()); }

    void put_bytes(std::uint64_t gpa, const std::vector<std::uint8_t>& bytes) {
        REQUIRE(memory.write(gpa, bytes).ok());
    }
    void put_string(std::uint64_t gpa, const std::string& s) {
        REQUIRE(memory.write(gpa, {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}).ok());
    }
};

// #GP(0), #UD as the VM-entry interruption-information field encodes them.
inline constexpr std::uint64_t kInjectGp = 0x8000'0b0d;
inline constexpr std::uint64_t kInjectUd = 0x8000'0306;

}  // namespace test
