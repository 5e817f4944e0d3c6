// libFuzzer: a hostile guest driving a Vcpu's exit handlers (arch-x86_64/vmx/vcpu*.cpp) over the
// host fakes (tests/unit/vmx_fake_vmcs.hpp, vmx_fake_platform.hpp): CPUID, RDMSR/WRMSR, VMCALL
// hypercalls, MOV CR/CLTS/LMSW, XSETBV, port I/O, HLT, device-memory accesses decoded from the
// guest's own instruction bytes through its own page tables, exceptions, and the rest of the exit
// reasons, with the PC platform's models behind the ports, the MSRs and the device pages
// (hypervisor/devices/pc_platform.hpp), the 16550, and a probe device on the MMIO bus.
//
// The input is a program (fuzz::Input): a byte choosing the entry mode (real, 32-bit protected,
// 64-bit), then operations until the input ends, the guest ends, or 96 exits: the guest writes
// its RAM or a register, or changes what it controls without an exit (RIP, RSP, CR3, RFLAGS,
// STI/MOV-SS blocking, the code segment's L/D bits), time passes, or the guest exits with a
// reason and the exit information a processor would give for it. After each exit the loop does
// what tandem's VM loop does before the next entry (prepare_entry) and what the processor does
// on it (an injected event is consumed).
//
// Checked after every exit, beyond ASan/UBSan:
//   - host memory: guest RAM and the guard pages around it are exactly as the guest left them
//     (no exit handler writes guest memory, none writes outside it);
//   - the guest state would pass the VM-entry checks the handlers are responsible for (SDM Vol.
//     3C §27.3.1): CR0/CR4 fixed bits, CR0.PG needs PE, IA-32e mode guest equals EFER.LMA and
//     needs PG and PAE, LMA equals LME under paging, no reserved EFER bits, RIP's upper half zero
//     outside 64-bit mode, an injected event well-formed (type, vector, error code only where
//     the exception has one and in protected mode), an external interrupt only when the guest
//     can take it;
//   - RIP moves by the instruction's length or not at all; an exit tandem does not handle stops
//     the guest; the exit count grows by one;
//   - a device on the MMIO bus is only handed accesses of 1, 2, 4 or 8 bytes that lie wholly
//     inside its range;
// and at the end, the platform's models save, restore into a fresh platform and save again to the
// same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "arch-x86_64/vmx/exit_qualification.hpp"
#include "arch-x86_64/vmx/exit_reason.hpp"
#include "arch-x86_64/vmx/guest_entry.hpp"
#include "arch-x86_64/vmx/vcpu.hpp"
#include "arch-x86_64/vmx/vmx_controls.hpp"
#include "guest-boot/test_guest_abi.hpp"
#include "hypervisor/devices/pc_platform.hpp"
#include "hypervisor/devices/uart16550_model.hpp"
#include "hypervisor/util/byte_stream.hpp"
#include "tests/fuzz/fuzz_guest_ram.hpp"
#include "tests/fuzz/fuzz_input.hpp"
#include "tests/unit/vmx_fake_platform.hpp"
#include "tests/unit/vmx_fake_vmcs.hpp"

namespace {

using namespace tandem::x86;
using tandem::guest_boot::EntryMode;

// A failed check names its line before the trap, so a reproducer says which property broke.
[[noreturn]] void fail(int line = __builtin_LINE()) {
    std::fprintf(stderr, "%s:%d: check failed\n", __FILE__, line);
    __builtin_trap();
}
void check(bool ok, int line = __builtin_LINE()) {
    if (!ok) fail(line);
}

constexpr std::uint64_t kChunk = 64 * 1024;  // guest RAM: 128 KiB in two chunks
constexpr unsigned kMaxExits = 96;
constexpr std::uint64_t kProbeBase = 0xd000'0000, kProbeSize = 0x100;
// Controls tandem computes for Bochs's corei7_skylake_x (as tests/unit/vmx_fake_vcpu.hpp).
constexpr std::uint32_t kPrimary = 0xb6006dfa, kEntry = 0xd1ff;
constexpr std::uint64_t kCr0Fixed0 = 0x80000021, kCr0Fixed1 = 0xffffffff, kCr4Fixed0 = 0x2000, kCr4Fixed1 = 0x3727ff;
constexpr std::uint64_t kCr0Pe = 1, kCr0Pg = 1ull << 31, kCr4Pae = 1ull << 5;
constexpr std::uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10;
constexpr std::uint64_t kEferAllowed = 1 | kEferLme | kEferLma | (1ull << 11);
constexpr std::uint64_t kRflagsIf = 1ull << 9;
constexpr unsigned kCsLongMode = 13, kCsDefault32 = 14;

CrPolicy skylake_cr_policy() {
    VmxCapabilityMsrs m;
    m.cr0_fixed0 = kCr0Fixed0;
    m.cr0_fixed1 = kCr0Fixed1;
    m.cr4_fixed0 = kCr4Fixed0;
    m.cr4_fixed1 = kCr4Fixed1;
    return cr_policy(m);
}

VcpuConfig vcpu_config() {
    VcpuConfig c;
    c.cpuid.tsc_khz = 49996;
    c.cpuid.rdtscp = true;
    c.cpuid.invpcid = true;
    c.cpuid.xsaves = true;
    c.cr = skylake_cr_policy();
    c.preemption_timer_reload = 499960;
    c.timer_rate = PreemptionTimerRate{5};
    c.supported_xcr0 = test::FakePlatform::kSkylakeXcr0;
    return c;
}

class NullWriter final : public tandem::Writer {
public:
    void write(std::string_view text) override { bytes += text.size(); }
    std::size_t bytes = 0;
};

// The guest's TSC as the models see it: the fake host TSC plus the VMCS offset.
class VmcsGuestClock final : public tandem::GuestClock {
public:
    VmcsGuestClock(const test::FakePlatform& p, const test::FakeVmcs& v) : p_(p), v_(v) {}
    std::uint64_t guest_tsc() const override { return p_.tsc + v_.read(vmcs::tsc_offset); }

private:
    const test::FakePlatform& p_;
    const test::FakeVmcs& v_;
};

// A device that checks what the bus and the vCPU hand it against the range it was attached with.
class ProbeDevice final : public tandem::MmioDevice {
public:
    std::uint64_t mmio_read(std::uint64_t offset, unsigned size) override {
        check_access(offset, size);
        return 0x1122'3344'5566'7788ull ^ offset;
    }
    void mmio_write(std::uint64_t offset, unsigned size, std::uint64_t value) override {
        check_access(offset, size);
        check(size == 8 || (value >> (8 * size)) == 0);
    }

private:
    static void check_access(std::uint64_t offset, unsigned size) {
        check(size == 1 || size == 2 || size == 4 || size == 8);
        check(offset < kProbeSize && size <= kProbeSize - offset);
    }
};

class Hooks final : public tandem::GuestEvents {
public:
    void on_timer() override { ++timers; }
    bool on_ram_write_fault(std::uint64_t) override { return false; }
    void on_pml_full() override { ++pml_fulls; }
    unsigned timers = 0, pml_fulls = 0;
};

// Every model's state, each as id (u16), length (u32), bytes.
std::vector<std::uint8_t> save_all(tandem::PcPlatform& platform, const tandem::Uart16550Model& uart) {
    std::vector<std::uint8_t> bytes(16384);
    tandem::ByteWriter w(bytes);
    auto one = [&](const tandem::StatefulDevice& d) {
        std::vector<std::uint8_t> state(4096);
        tandem::ByteWriter dw(state);
        d.save_state(dw);
        check(!dw.overflow());
        w.put<std::uint16_t>(d.state_id());
        w.put<std::uint32_t>(static_cast<std::uint32_t>(dw.size()));
        w.put_bytes(dw.written());
    };
    for (tandem::StatefulDevice* d : platform.devices()) one(*d);
    one(uart);
    check(!w.overflow());
    bytes.resize(w.size());
    return bytes;
}

// Restores what save_all wrote into `platform` and `uart`, each model under its own version.
void restore_all(std::span<const std::uint8_t> saved, tandem::PcPlatform& platform, tandem::Uart16550Model& uart) {
    tandem::ByteReader r(saved);
    auto one = [&](tandem::StatefulDevice& d) {
        std::uint16_t id = 0;
        std::uint32_t n = 0;
        std::span<const std::uint8_t> state;
        check(r.get(id) && id == d.state_id() && r.get(n) && r.get_bytes(state, n));
        check(d.restore_state(d.state_version(), state).ok());
    };
    for (tandem::StatefulDevice* d : platform.devices()) one(*d);
    one(uart);
    check(r.remaining() == 0);
}

struct Rig {
    fuzz::GuardedRam ram{kChunk};
    test::FakeVmcs vmcs;
    test::FakePlatform platform;
    std::vector<char> console_buffer = std::vector<char>(1 << 16);
    tandem::BufferWriter console{console_buffer.data(), console_buffer.size()};
    NullWriter log;
    tandem::PortIoBus bus{console};
    tandem::MmioBus mmio;
    tandem::Uart16550Model uart{console};
    VmcsGuestClock clock{platform, vmcs};
    tandem::PcPlatform pc{clock, log, tandem::PcPlatformConfig{2'000'000'000, 1'700'000'000, {}}};
    ProbeDevice probe;
    Hooks hooks;
    Vcpu vcpu;

    explicit Rig(EntryMode mode) : vcpu(vmcs, ram.memory(), bus, platform, console, vcpu_config()) {
        check(bus.attach(tandem::Uart16550Model::kBase, tandem::Uart16550Model::kPorts, uart).ok());
        check(pc.attach(bus, mmio).ok());
        check(mmio.attach(kProbeBase, kProbeSize, probe).ok());
        uart.set_interrupt_line(&pc.irq_lines());
        vcpu.set_mmio_bus(&mmio);
        vcpu.set_interrupts(&pc);
        vcpu.set_hooks(&hooks);
        vmcs.set(vmcs::primary_controls, kPrimary);
        vmcs.set(vmcs::entry_controls, kEntry);
        GuestEntry e;
        e.mode = mode;
        e.rip = mode == EntryMode::real16 ? 0x100 : 0x1000;
        e.real_segment = 0xf0;
        e.rsp = 0x8000;
        e.rdi = 0x2000;
        e.rsi = ram.size();
        e.cr3 = 0x3000;
        write_guest_entry_state(vmcs, vcpu.regs(), e, vcpu_config().cr);
    }
};

bool long_mode_code(const test::FakeVmcs& v) {
    return (v.read(vmcs::guest_efer) & kEferLma) && ((v.read(vmcs::guest_cs_access) >> kCsLongMode) & 1);
}

// The VM-entry checks on what the exit handlers change (SDM Vol. 3C §27.3.1.1, §27.2.1.3).
void check_entry_state(const test::FakeVmcs& v, bool event_from_vectoring) {
    std::uint64_t cr0 = v.read(vmcs::guest_cr0), cr4 = v.read(vmcs::guest_cr4), efer = v.read(vmcs::guest_efer);
    std::uint64_t must0 = kCr0Fixed0 & ~(kCr0Pe | kCr0Pg);  // unrestricted guest
    check((cr0 & must0) == must0 && (cr0 & ~kCr0Fixed1) == 0);
    check(!(cr0 & kCr0Pg) || (cr0 & kCr0Pe));
    check((cr4 & kCr4Fixed0) == kCr4Fixed0 && (cr4 & ~kCr4Fixed1) == 0);
    bool ia32e = (v.read(vmcs::entry_controls) & entry_ctl::ia32e_mode_guest) != 0;
    check(ia32e == ((efer & kEferLma) != 0));
    check((efer & ~kEferAllowed) == 0);
    if (ia32e) check((cr0 & kCr0Pg) && (cr4 & kCr4Pae));
    if (cr0 & kCr0Pg) check(((efer & kEferLma) != 0) == ((efer & kEferLme) != 0));
    if (!long_mode_code(v)) check((v.read(vmcs::guest_rip) >> 32) == 0);

    InterruptionInfo event{static_cast<std::uint32_t>(v.read(vmcs::entry_interruption_info))};
    if (!event.valid()) return;
    check((event.raw & 0x7fff'f000u) == 0);  // reserved bits 30:12
    auto type = event.type();
    check(type != static_cast<InterruptionInfo::Type>(1));  // type 1 is reserved
    if (type == InterruptionInfo::Type::nmi) check(event.vector() == 2);
    if (type == InterruptionInfo::Type::hardware_exception) check(event.vector() < 32);
    if (type == InterruptionInfo::Type::other_event) check(event.vector() == 0);
    // An error code exactly when the exception has one and the guest is in protected mode
    // (unrestricted guest; §27.2.1.3).
    unsigned vec = event.vector();
    bool has_code = type == InterruptionInfo::Type::hardware_exception &&
                    (vec == 8 || (vec >= 10 && vec <= 14) || vec == 17) && (cr0 & kCr0Pe);
    if (type == InterruptionInfo::Type::hardware_exception && vec == 21) has_code = event.has_error_code();  // #CP
    check(event.has_error_code() == has_code);
    if (type == InterruptionInfo::Type::external_interrupt && !event_from_vectoring) {
        check((v.read(vmcs::guest_rflags) & kRflagsIf) && (v.read(vmcs::guest_interruptibility) & 3) == 0);
    }
}

// Exit information as a processor gives it for a guest's instruction or event.
struct Exit {
    std::uint32_t reason = 0;
    std::uint64_t qualification = 0;
    std::uint32_t length = 0;
    std::uint32_t vectoring = 0;
    std::uint32_t interruption = 0;
    std::uint64_t gpa = 0;
};

// A well-formed event (external interrupt, NMI, hardware or software exception, software
// interrupt), as IDT-vectoring and exit interruption information hold them; exceptions deliver an
// error code only in protected mode (`pe`).
std::uint32_t event_info(fuzz::Input& in, bool pe) {
    std::uint8_t vector = in.u8();
    switch (in.pick(5)) {
        case 0: return (1u << 31) | (vector < 32 ? 32u : vector);
        case 1: return (1u << 31) | (2u << 8) | 2u;
        case 2: {
            vector &= 31;
            bool code = pe && (vector == 8 || (vector >= 10 && vector <= 14) || vector == 17);
            return (1u << 31) | (3u << 8) | vector | (code ? 1u << 11 : 0u);
        }
        case 3: return (1u << 31) | (4u << 8) | vector;
        default: return (1u << 31) | (6u << 8) | (in.flag() ? 3u : 4u);  // INT3, INTO
    }
}

Exit next_exit(fuzz::Input& in, const test::FakeVmcs& v) {
    Exit e;
    bool pe = (v.read(vmcs::guest_cr0) & kCr0Pe) != 0;
    static constexpr ExitReason kReasons[] = {
        ExitReason::cpuid,          ExitReason::rdmsr,          ExitReason::wrmsr,
        ExitReason::vmcall,         ExitReason::cr_access,      ExitReason::xsetbv,
        ExitReason::io_instruction, ExitReason::ept_violation,  ExitReason::hlt,
        ExitReason::exception_or_nmi, ExitReason::preemption_timer, ExitReason::interrupt_window,
        ExitReason::external_interrupt, ExitReason::invd,       ExitReason::wbinvd,
        ExitReason::rdpmc,          ExitReason::vmxon,          ExitReason::pml_full,
        ExitReason::triple_fault,   ExitReason::ept_misconfiguration,
    };
    unsigned choice = in.pick(sizeof kReasons / sizeof kReasons[0] + 1);
    ExitReason reason = choice < sizeof kReasons / sizeof kReasons[0] ? kReasons[choice]
                                                                      : static_cast<ExitReason>(in.u8() % 80);
    e.reason = static_cast<std::uint32_t>(reason);
    switch (reason) {
        case ExitReason::cpuid:
        case ExitReason::rdmsr:
        case ExitReason::wrmsr:
        case ExitReason::invd:
        case ExitReason::wbinvd:
        case ExitReason::rdpmc: e.length = 2; break;
        case ExitReason::vmcall:
        case ExitReason::xsetbv:
        case ExitReason::vmxon: e.length = 3; break;
        case ExitReason::hlt: e.length = 1; break;
        case ExitReason::cr_access: {
            static constexpr unsigned kCrs[] = {0, 3, 4, 8};
            unsigned type = in.pick(4);
            unsigned cr = type >= 2 ? 0 : kCrs[in.pick(4)];  // CLTS and LMSW are CR0's
            e.qualification = cr | type << 4 | static_cast<std::uint64_t>(in.u8() & 15) << 8 |
                              (type == 3 ? static_cast<std::uint64_t>(in.u16()) << 16 : 0);
            e.length = type == 2 ? 2 : 3;
            break;
        }
        case ExitReason::io_instruction: {
            static constexpr unsigned kSizes[] = {1, 2, 4};
            static constexpr std::uint16_t kPorts[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42,
                                                       0x43, 0x61, 0x70, 0x71, 0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc,
                                                       0x3fd, 0x3fe, 0x3ff, 0x600, 0x601, 0x602, 0x64, 0x80};
            std::uint8_t p = in.u8();
            std::uint16_t port = p < 2 * sizeof kPorts / sizeof kPorts[0] ? kPorts[p % (sizeof kPorts / sizeof kPorts[0])]
                                                                           : in.u16();
            unsigned size = kSizes[in.pick(3)];
            // IN or OUT, string, REP, the port in DX (1 byte) or an immediate (2 bytes).
            std::uint8_t bits = in.u8();
            e.qualification = static_cast<std::uint64_t>(port) << 16 | (size - 1) | (bits & 0x78u);
            e.length = (bits & 0x40u) ? 2 : 1;
            break;
        }
        case ExitReason::ept_violation: {
            static constexpr std::uint64_t kBases[] = {kProbeBase, tandem::LocalApicModel::kDefaultBase,
                                                       tandem::IoApicModel::kBase};
            unsigned where = in.pick(5);
            std::uint16_t offset = in.u16();
            if (where < 3) {
                e.gpa = kBases[where] + (offset & 0xfff);
            } else if (where == 3) {
                e.gpa = offset;  // inside guest RAM
            } else {
                e.gpa = in.u64();
            }
            e.qualification = in.u16() & 0x1fbu;  // access, permissions, linear-address bits
            break;
        }
        case ExitReason::exception_or_nmi:
            e.interruption = event_info(in, pe);
            e.length = 1 + in.pick(3);
            break;
        default: break;
    }
    if (in.pick(8) == 0) e.vectoring = event_info(in, pe);
    if (in.pick(64) == 0) e.reason |= 1u << 31;  // a failed VM entry
    return e;
}

bool handled(ExitReason r) {
    switch (r) {
        case ExitReason::exception_or_nmi: case ExitReason::external_interrupt: case ExitReason::triple_fault:
        case ExitReason::init_signal: case ExitReason::interrupt_window: case ExitReason::cpuid:
        case ExitReason::hlt: case ExitReason::invd: case ExitReason::wbinvd: case ExitReason::vmcall:
        case ExitReason::cr_access: case ExitReason::io_instruction: case ExitReason::rdmsr:
        case ExitReason::wrmsr: case ExitReason::ept_violation: case ExitReason::ept_misconfiguration:
        case ExitReason::preemption_timer: case ExitReason::xsetbv: case ExitReason::pml_full:
        case ExitReason::rdpmc: case ExitReason::getsec: case ExitReason::vmclear: case ExitReason::vmlaunch:
        case ExitReason::vmptrld: case ExitReason::vmptrst: case ExitReason::vmread: case ExitReason::vmresume:
        case ExitReason::vmwrite: case ExitReason::vmxoff: case ExitReason::vmxon: case ExitReason::invept:
        case ExitReason::invvpid: case ExitReason::vmfunc: case ExitReason::monitor: case ExitReason::mwait:
            return true;
        default: return false;
    }
}

// RIP unchanged, or moved past an instruction of `min`-`max` bytes (wrapping at 32 or 16 bits in
// 32- and 16-bit code).
bool rip_moved_by(std::uint64_t before, std::uint64_t after, std::uint32_t min, std::uint32_t max) {
    if (after == before) return true;
    for (std::uint64_t n = min; n <= max; ++n) {
        std::uint64_t next = before + n;
        if (after == next || after == (next & 0xffff'ffffull) || after == (next & 0xffffull)) return true;
    }
    return false;
}

std::uint64_t interesting_msr(fuzz::Input& in) {
    static constexpr std::uint32_t kMsrs[] = {0x10,  0x17,  0x1b,  0x3a,  0x8b,       0x1a0,      0x277,
                                              0x6e0, 0x802, 0x808, 0x80b, 0x80f,      0x830,      0x832,
                                              0x838, 0x83e, 0x83f, 0x8ff, 0xc0000080, 0xc0000081, 0x174};
    std::uint8_t i = in.u8();
    return i < sizeof kMsrs / sizeof kMsrs[0] ? kMsrs[i] : 0x800u + i;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    static constexpr EntryMode kModes[] = {EntryMode::real16, EntryMode::protected32, EntryMode::long64};
    auto rig = std::make_unique<Rig>(kModes[in.pick(3)]);
    test::FakeVmcs& v = rig->vmcs;
    Vcpu& vcpu = rig->vcpu;
    namespace abi = tandem::guest_abi;

    unsigned exits = 0;
    while (!in.empty() && vcpu.running() && exits < kMaxExits) {
        switch (in.pick(8)) {
            case 0: {  // the guest stores to its RAM
                std::uint64_t gpa = static_cast<std::uint64_t>(in.u16()) * 2;
                rig->ram.load(gpa, in.bytes(in.u8() % 48));
                break;
            }
            case 1: {  // a register
                unsigned r = in.pick(17);
                std::uint64_t value = in.u64();
                if (r == 16) {
                    vcpu.regs()[Gpr::rcx] = interesting_msr(in);
                } else if (r == 4) {
                    v.set(vmcs::guest_rsp, value);
                } else {
                    vcpu.regs()[static_cast<Gpr>(r)] = value;
                }
                break;
            }
            case 2: {  // a hypercall's arguments
                static constexpr std::uint32_t kCalls[] = {abi::kHypercallPrint, abi::kHypercallClock,
                                                           abi::kHypercallExit, 0x54440004};
                vcpu.regs()[Gpr::rax] = kCalls[in.pick(4)];
                vcpu.regs()[Gpr::rbx] = in.flag() ? in.u16() : in.u64();
                vcpu.regs()[Gpr::rcx] = in.flag() ? in.u16() % 5000 : in.u64();
                break;
            }
            case 3: {  // what the guest changes without an exit
                std::uint64_t value = in.u64();
                switch (in.pick(6)) {
                    case 0: v.set(vmcs::guest_rip, long_mode_code(v) ? value : value & 0xffff'ffffull); break;
                    case 1: v.set(vmcs::guest_cr3, value & 0x000f'ffff'ffff'f018ull); break;
                    case 2: v.set(vmcs::guest_rflags, (value & 0x3f'7fd7ull) | 2); break;
                    case 3: v.set(vmcs::guest_interruptibility, value & 3); break;  // STI / MOV SS
                    case 4: {  // a far jump: the code segment's L and D bits (not both)
                        std::uint64_t access = v.read(vmcs::guest_cs_access) & ~(3ull << kCsLongMode);
                        unsigned ld = in.pick(3);
                        if (ld == 1 && (v.read(vmcs::guest_efer) & kEferLma)) access |= 1ull << kCsLongMode;
                        if (ld == 2) access |= 1ull << kCsDefault32;
                        v.set(vmcs::guest_cs_access, access);
                        if (!long_mode_code(v)) v.set(vmcs::guest_rip, v.read(vmcs::guest_rip) & 0xffff'ffffull);
                        break;
                    }
                    default: v.set(vmcs::guest_cs_base, value & 0xffff'ffffull); break;
                }
                break;
            }
            case 4:  // time passes
                rig->platform.tsc += in.flag() ? in.u16() : in.u32();
                break;
            case 5:
                rig->platform.accept_xcr0 = in.flag();
                break;
            default: {  // an exit
                Exit e = next_exit(in, v);
                auto before = rig->ram.snapshot();
                std::uint64_t rip = v.read(vmcs::guest_rip);
                std::uint64_t count = vcpu.stats().exits;
                v.set(vmcs::exit_reason, e.reason);
                v.set(vmcs::exit_qualification, e.qualification);
                v.set(vmcs::exit_instruction_length, e.length);
                v.set(vmcs::idt_vectoring_info, e.vectoring);
                v.set(vmcs::idt_vectoring_error_code, 0);
                v.set(vmcs::exit_interruption_info, e.interruption);
                v.set(vmcs::exit_interruption_error_code, (e.interruption >> 11) & 1 ? in.u16() & 0xfff8u : 0);
                v.set(vmcs::guest_physical_address, e.gpa);
                // The processor clears the valid bit of the entry's event on every exit (§28.2).
                v.set(vmcs::entry_interruption_info, v.read(vmcs::entry_interruption_info) & 0x7fff'ffffu);
                vcpu.handle_exit();
                ++exits;

                check(rig->ram.unchanged(before));
                check(vcpu.stats().exits == count + 1);
                ExitReasonField field{e.reason};
                if (field.entry_failure() || !handled(field.basic())) check(!vcpu.running());
                if (vcpu.running()) {
                    bool mmio = field.basic() == ExitReason::ept_violation;
                    check(rip_moved_by(rip, v.read(vmcs::guest_rip), mmio ? 1 : e.length, mmio ? 15 : e.length));
                }
                if (!vcpu.running()) break;
                vcpu.prepare_entry();
                check_entry_state(v, (e.vectoring >> 31) != 0);
                break;
            }
        }
    }
    check(rig->ram.guards_intact());

    // The models' state after all that: restored into a fresh platform, it saves the same.
    auto saved = save_all(rig->pc, rig->uart);
    auto other = std::make_unique<Rig>(EntryMode::long64);
    restore_all(saved, other->pc, other->uart);
    check(save_all(other->pc, other->uart) == saved);
    return 0;
}
