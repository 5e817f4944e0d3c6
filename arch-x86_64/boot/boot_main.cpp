// kernel_main: the boot sequence, from the trampoline's first C++ call to the point where the
// machine is checked and ready. Each step reports on the serial console; every refusal says why
// and stops here with the console still attached.
#include <cstdint>

#include "arch-x86_64/boot/boot_info.hpp"
#include "arch-x86_64/boot/boot_report.hpp"
#include "arch-x86_64/boot/build_id.hpp"
#include "arch-x86_64/boot/mode_table.hpp"
#include "arch-x86_64/boot/multiboot1.hpp"
#include "arch-x86_64/boot/multiboot2.hpp"
#include "arch-x86_64/boot/selftest.hpp"
#include "arch-x86_64/cpu/cpu_identity.hpp"
#include "arch-x86_64/cpu/descriptor_tables.hpp"
#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/nic/machine_pci.hpp"
#include "arch-x86_64/paging/host_paging.hpp"
#include "arch-x86_64/serial/console_uart.hpp"
#include "arch-x86_64/time/tsc_calibration.hpp"
#include "arch-x86_64/vmx/capability_probe.hpp"
#include "arch-x86_64/vmx/machine_platform.hpp"
#include "hypervisor/config/config.hpp"
#include "hypervisor/console/console.hpp"
#include "hypervisor/memory/frame_allocator.hpp"

#ifndef TANDEM_VERSION
#error "TANDEM_VERSION must come from the build"
#endif

extern "C" void (*__init_array_start[])();
extern "C" void (*__init_array_end[])();

namespace tandem::x86 {
namespace {

constexpr std::uint16_t kCom1 = 0x3f8;
// The boot trampoline identity-maps the first 4 GiB; until our own page tables are active,
// loader data must lie below this.
constexpr std::uint64_t kBootMapLimit = 4ull << 30;
constexpr std::uint64_t kFirstMegabyte = 1ull << 20;
// The console's ring: enough for a few of the print hypercall's 4 KiB lines and the guest's
// output while the serial line (~11.5 KB/s) catches up. The held ring: tandem's messages that
// wait for the end of a guest line, or the guest's output while tandem's shell is shown.
constexpr std::size_t kConsoleRing = 16 * 1024;
constexpr std::size_t kHeldRing = 16 * 1024;

constinit Uart16550 com1{kCom1};
constinit char console_ring[kConsoleRing]{};
constinit char held_ring[kHeldRing]{};
constinit BufferedConsole console_out{console_ring, held_ring, com1};
// The shell's `log`: the newest of tandem's messages (a few hundred lines).
constexpr std::size_t kMessageLog = 16 * 1024;
constinit char message_log_storage[kMessageLog]{};
constinit MessageLog logged_out{console_out, message_log_storage};
constinit boot::BootInfo boot_info{};
constinit Config config{};
constinit FrameAllocator frames{};

[[noreturn]] void refuse(std::string_view what) {
    println(console(), "tandem: cannot start: {}", what);
    println(console(), "tandem: halted");
    halt_forever();
}

// Physical memory as the boot identity map exposes it (multiboot 1 pointers).
class BootPhysicalReader final : public boot::PhysicalReader {
public:
    std::span<const std::uint8_t> bytes(std::uint64_t phys, std::size_t length) const override {
        if (phys == 0 || phys >= kBootMapLimit || length > kBootMapLimit - phys) return {};
        return {reinterpret_cast<const std::uint8_t*>(phys), length};
    }
};

}  // namespace

Uart16550& console_uart() { return com1; }
BufferedConsole& buffered_console() { return console_out; }
MessageLog& message_log() { return logged_out; }

namespace {

Status read_boot_info(std::uint32_t magic, std::uint64_t info_phys) {
    if (magic == boot::kMultiboot2LoaderMagic) {
        BootPhysicalReader memory;
        auto header = memory.bytes(info_phys, 8);
        if (header.empty()) return Error::of("multiboot2: information block is not in readable memory", info_phys);
        auto total = boot::multiboot2_total_size(header);
        if (!total) return total.error();
        auto block = memory.bytes(info_phys, *total);
        if (block.empty()) return Error::of("multiboot2: information block is not in readable memory", info_phys);
        return boot::parse_multiboot2(block, info_phys, boot_info);
    }
    if (magic == boot::kMultiboot1LoaderMagic) {
        return boot::parse_multiboot1(BootPhysicalReader{}, info_phys, boot_info);
    }
    return Error::of("not started by a multiboot loader: unknown magic in EAX", magic);
}

Status init_frames() {
    for (const boot::MemoryRegion& r : boot_info.memory_map()) {
        if (r.type != static_cast<std::uint32_t>(boot::MemoryType::available)) continue;
        if (auto s = frames.add_free({r.base, r.base + r.length}); !s) return s;
    }
    // Now remove what is in use: firmware's first megabyte, the image, the loader's data, the
    // modules (the guest's kernel and initrd will be read from them).
    ImageLayout image = image_layout();
    if (auto s = frames.exclude({0, kFirstMegabyte}); !s) return s;
    if (auto s = frames.exclude({image.text.start, image.data.end}); !s) return s;
    for (const boot::PhysicalExtent& e : boot_info.loader_data()) {
        if (auto s = frames.exclude({e.start, e.end}); !s) return s;
    }
    for (const boot::BootModule& m : boot_info.module_list()) {
        if (auto s = frames.exclude({m.start, m.end}); !s) return s;
    }
    return success();
}

void run_static_constructors() {
    for (auto* fn = __init_array_start; fn != __init_array_end; ++fn) (*fn)();
}

}  // namespace
}  // namespace tandem::x86

namespace tandem::x86 {
namespace {

// The boot information and the command line, checked; refuses (and halts) on any problem.
void read_configuration(std::uint32_t magic, std::uint32_t info_phys) {
    Writer& out = console();
    if (auto s = read_boot_info(magic, info_phys); !s) {
        print(out, "boot: the boot information is unusable: ");
        println(out, "{}", s.error());
        refuse("malformed boot information");
    }
    report_boot_info(out, boot_info);
    if (!boot_info.has_memory_map) refuse("the boot loader gave no memory map");
    if (auto s = validate_modules(boot_info); !s) {
        println(out, "boot: {}", s.error());
        refuse("a module lies outside available RAM");
    }
    bool mb1 = boot_info.protocol == boot::BootInfo::Protocol::multiboot1;
    if (parse_command_line(boot_info.cmdline, config, out, mb1) != 0) {
        refuse("bad command line (see the config: lines above; keys are documented in the README)");
    }
    report_config(out, config);
    if (config.dump_boot_info && !mb1) dump_multiboot2_block(out, boot_info);
    for (const boot::BootModule& m : boot_info.module_list()) {
        if (m.cmdline.substr(0, m.cmdline.find(' ')) == "link_key") config.link_key_module = true;
    }
}

// The frame allocator over the loader's memory map, and W^X page tables of our own.
void set_up_memory() {
    Writer& out = console();
    if (auto s = init_frames(); !s) {
        println(out, "memory: {}", s.error());
        refuse("cannot set up the frame allocator");
    }
    auto paging = activate_host_paging(boot_info.memory_map(), frames);
    if (!paging) {
        println(out, "paging: {}", paging.error());
        refuse("cannot build the hypervisor's page tables");
    }
    println(out, "paging: W^X host page tables active: {} mappings in {} tables (text RX, rodata R+NX, data RW+NX, page 0 unmapped)",
            paging->mappings, paging->tables);
    println(out, "memory: {} free for tandem and the guest in {} ranges", Bytes{frames.free_bytes()},
            frames.free_ranges().size());
}

// The guest's XSAVE area, sized from CPUID, must fit what a checkpoint carries: a processor
// whose does not is refused here, not by every capture failing later (xsave_layout.hpp).
void check_extended_state(Writer& out) {
    MachinePlatform cpu;
    if (auto s = cpu.extended_state(); !s) {
        println(out, "cpu: {}", s.error());
        refuse("this processor's XSAVE state cannot be carried in a checkpoint (see the line above)");
    }
    report_xsave_layout(out, cpu.xsave_layout(), checkpoint::CpuState::kMaxXsave);
    report_speculation(out, cpu.speculation_facts(), cpu.speculation());
}

// The session for the configured mode (mode_table.hpp) on this machine, until it has finished.
void run_mode(const ModeEntry& mode, const VmxCapabilityMsrs& msrs, const VmxCapabilities& caps) {
    Writer& out = console();
    std::uint64_t tsc_khz = calibrate_tsc_khz();
    if (tsc_khz == 0) {
        println(out, "time: the PIT did not count down: TSC frequency unknown (guests see 0 kHz)");
    } else {
        println(out, "time: TSC runs at {} kHz (measured against the PIT)", tsc_khz);
    }
    if (mode.guest == ModeEntry::Guest::required && config.guest_kernel.empty()) {
        refuse("a primary needs a guest (guest_kernel= names its module)");
    }
    if (mode.guest == ModeEntry::Guest::optional && config.guest_kernel.empty()) {
        println(out, "tandem: boot complete; no guest configured (guest_kernel= names the module to run)");
        return;
    }
    static X86Machine machine(MachineFacts{config, boot_info, frames, msrs, caps, tsc_khz});
    mode.run(machine);
}

}  // namespace
}  // namespace tandem::x86

extern "C" [[noreturn]] void kernel_main(std::uint32_t magic, std::uint32_t info_phys) {
    using namespace tandem;
    using namespace tandem::x86;
    com1.init();
    attach_console(logged_out, console_out.guest());  // synchronous until a guest runs
    install_descriptor_tables();
    run_static_constructors();

    Writer& out = console();
    println(out, "");
    auto id = build_id();
    println(out, "tandem {} (build {}) - bare-metal micro-hypervisor for x86-64, fault-tolerant guest pairs",
            TANDEM_VERSION, ColonHex{id.data(), id.size() > 8 ? 8 : id.size()});
    read_configuration(magic, info_phys);
    set_up_memory();
    run_selftest(config.selftest);
    discover_pci(boot_info);  // part of the boot report: listed even where VT-x is refused below

    CpuIdentity cpu = read_cpu_identity();
    println(out, "cpu: {} \"{}\" family {} model {} stepping {}", cpu.vendor, cpu.brand, hex(cpu.family),
            hex(cpu.model), cpu.stepping);
    VmxCapabilityMsrs msrs = read_vmx_capability_msrs();
    VmxCapabilities caps = decode_vmx_capabilities(msrs);
    VmxVerdict verdict = judge_vmx(caps);
    report_vmx(out, msrs, caps, verdict);
    if (!verdict.usable) refuse(verdict.refusal);
    check_extended_state(out);

    const ModeEntry* mode = find_mode(config);
    if (mode == nullptr) {
        println(out, "tandem: mode={} is not implemented in this build (standalone, checkpoint, lockstep, migrate and linktest are)",
                mode_name(config.mode));
        refuse("requested mode not available");
    }
    run_mode(*mode, msrs, caps);
    println(out, "tandem: halted");
    halt_forever();
}
