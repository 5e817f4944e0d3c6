#include "arch-x86_64/boot/guest_image.hpp"

#include "arch-x86_64/paging/host_paging.hpp"
#include "guest-boot/elf_loader.hpp"
#include "guest-boot/test_guest_abi.hpp"
#include "guest-boot/test_guest_boot.hpp"
#include "hypervisor/console/console.hpp"
#include "hypervisor/util/fnv.hpp"
#include "replication/sessions/session_machine.hpp"

namespace tandem::x86 {
namespace {
namespace abi = tandem::guest_abi;
using guest_boot::EntryMode;
}  // namespace

std::string_view first_word(std::string_view s) {
    std::size_t end = s.find(' ');
    return end == std::string_view::npos ? s : s.substr(0, end);
}

const boot::BootModule* find_module(const boot::BootInfo& info, std::string_view name) {
    for (const boot::BootModule& m : info.module_list()) {
        if (first_word(m.cmdline) == name) return &m;
    }
    return nullptr;
}

// FNV-1a over the image's text and read-only data: what no guest may ever change.
std::uint64_t image_hash() {
    ImageLayout image = image_layout();
    return fnv1a64(reinterpret_cast<const std::uint8_t*>(image.text.start), image.rodata.end - image.text.start);
}

namespace {
Result<GuestEntry> entry_for(const guest_boot::LoadedElf& elf, GuestEntryChoice choice, std::uint64_t guest_ram) {
    EntryMode mode = elf.elf_class == guest_boot::ElfClass::elf64 ? EntryMode::long64 : EntryMode::protected32;
    if (choice == GuestEntryChoice::real) mode = EntryMode::real16;
    if (choice == GuestEntryChoice::protected_mode) mode = EntryMode::protected32;
    if (choice == GuestEntryChoice::long_mode) mode = EntryMode::long64;
    GuestEntry e;
    e.mode = mode;
    if (mode == EntryMode::real16) {
        // One real-mode segment: the image must start on a paragraph below 1 MiB and fit in 64 KiB.
        std::uint64_t base = elf.entry_segment_base;
        if (base % 16 != 0 || base > 0xffff0 || elf.highest - base > 0x10000 || elf.lowest < base) {
            return Error::of("a real-mode guest must load at a 16-byte boundary below 1 MiB and fit in 64 KiB; load address",
                             base);
        }
        e.real_segment = static_cast<std::uint16_t>(base >> 4);
        e.rip = elf.entry - base;
        e.rsp = 0xfff0;
        return e;
    }
    if (mode == EntryMode::protected32 && (elf.highest > (1ull << 32))) {
        return Error::of("a 32-bit guest must lie below 4 GiB; it ends at", elf.highest);
    }
    e.rip = elf.entry;
    e.rsp = abi::kInitialStackTop;
    e.rdi = abi::kCommandLine;
    e.rsi = mode == EntryMode::long64 || guest_ram < (1ull << 32) ? guest_ram : 0xffffffffu;
    e.cr3 = abi::kPageTables;
    return e;
}
}  // namespace

// The dirty-tracking method: the best the CPU has, or the one asked for if the CPU has it.
Result<DirtyTracking> dirty_method(const Config& config, const VmxCapabilities& caps) {
    DirtyTracking best = judge_vmx(caps).dirty;
    switch (config.dirty) {
        case DirtyTracking::automatic: return best;
        case DirtyTracking::pml:
            if (!caps.pml || !caps.ept_accessed_dirty) return Error::of("dirty=pml, but this processor has no PML");
            return DirtyTracking::pml;
        case DirtyTracking::ad_bits:
            if (!caps.ept_accessed_dirty) return Error::of("dirty=ad, but this processor's EPT has no accessed/dirty flags");
            return DirtyTracking::ad_bits;
        case DirtyTracking::write_protect: return DirtyTracking::write_protect;
    }
    return best;
}



Result<GuestEntry> load_test_guest(const Config& config, const boot::BootInfo& boot, GuestMemory& memory) {
    Writer& out = console();
    const boot::BootModule* module = find_module(boot, config.guest_kernel);
    if (module == nullptr) {
        print(out, "tandem: cannot start the guest: no module named '{}' (modules given:", config.guest_kernel);
        if (boot.module_count == 0) print(out, " none");
        for (const boot::BootModule& m : boot.module_list()) print(out, " '{}'", first_word(m.cmdline));
        println(out, "); add 'module2 FILE {}' to the GRUB entry", config.guest_kernel);
        return Error::of("guest module missing");
    }
    std::span<const std::uint8_t> file{reinterpret_cast<const std::uint8_t*>(module->start),
                                       static_cast<std::size_t>(module->end - module->start)};
    auto elf = guest_boot::load_elf(file, memory, {abi::kReservedStart, abi::kReservedEnd});
    if (!elf) {
        sessions::report_problem(console(), "its image", elf.error());
        return elf.error();
    }
    auto entry = entry_for(*elf, config.guest_entry, memory.size());
    if (!entry) {
        sessions::report_problem(console(), "its entry", entry.error());
        return entry.error();
    }
    if (auto s = guest_boot::write_test_guest_boot_data(memory, config.guest_cmdline, entry->mode); !s) {
        sessions::report_problem(console(), "its boot data", s.error());
        return s.error();
    }
    println(out, "vm: guest '{}' ({}-bit ELF, {} segment(s) at {} - {}), entry {} in {}, {} of RAM", config.guest_kernel,
            elf->elf_class == guest_boot::ElfClass::elf64 ? 64 : 32, elf->segments, hex(elf->lowest), hex(elf->highest),
            hex(elf->entry), guest_boot::entry_mode_name(entry->mode), Bytes{memory.size()});
    return *entry;
}

}  // namespace tandem::x86
