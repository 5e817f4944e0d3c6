#include "arch-x86_64/paging/host_paging.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/paging/identity_table_memory.hpp"

extern "C" char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __data_end[];

namespace tandem::x86 {
namespace {

// Page tables must be reachable through the boot loader's identity map while we build them.
constexpr std::uint64_t kBootMapLimit = 4ull << 30;

std::uint64_t addr(const char* p) { return reinterpret_cast<std::uint64_t>(p); }

PageTableBuilder<IdentityTableMemory>* host_tables = nullptr;

}  // namespace

ImageLayout image_layout() {
    return ImageLayout{{addr(__text_start), addr(__text_end)},
                       {addr(__rodata_start), addr(__rodata_end)},
                       {addr(__data_start), addr(__data_end)}};
}

Result<HostPagingReport> activate_host_paging(std::span<const boot::MemoryRegion> memory_map, FrameAllocator& frames) {
    static HostMapping plan[kMaxHostMappings];
    auto count = plan_host_address_space(image_layout(), memory_map, plan);
    if (!count) return count.error();
    static IdentityTableMemory memory(frames, kBootMapLimit);
    static PageTableBuilder<IdentityTableMemory> builder(memory);
    host_tables = &builder;
    if (auto s = build_host_address_space(builder, std::span<const HostMapping>{plan, *count}); !s) return s.error();
    // CR0.WP makes read-only pages read-only for the hypervisor too (SDM Vol. 3A §2.5); the
    // trampoline set it and EFER.NXE, which the NX bits rely on. Writing CR3 flushes the TLB.
    write_cr0(read_cr0() | (1ull << 16));
    write_cr3(builder.root());
    return HostPagingReport{*count, memory.tables(), builder.root()};
}

Status map_device_memory(std::uint64_t phys, std::uint64_t size) {
    if (host_tables == nullptr) return Error::of("paging: host page tables are not active yet");
    std::uint64_t start = phys & ~(kSmallPage - 1);
    std::uint64_t end = (phys + size + kSmallPage - 1) & ~(kSmallPage - 1);
    if (auto s = host_tables->map(start, start, end - start, kDeviceMemory); !s) return s;
    write_cr3(read_cr3());  // flush the paging-structure caches (SDM Vol. 3A §5.10.4.1)
    return success();
}

Status map_firmware_tables(std::uint64_t phys, std::uint64_t size) {
    if (host_tables == nullptr) return Error::of("paging: host page tables are not active yet");
    if (size == 0) return success();
    if (phys + size < phys || phys + size > kCanonicalLowerLimit) return Error::of("paging: firmware table beyond the mappable range", phys);
    std::uint64_t start = phys & ~(kSmallPage - 1);
    std::uint64_t end = (phys + size + kSmallPage - 1) & ~(kSmallPage - 1);
    if (start == 0) return Error::of("paging: page 0 stays unmapped");
    bool mapped = false;
    for (std::uint64_t page = start; page != end; page += kSmallPage) {
        if (host_tables->translate(page)) continue;
        if (auto s = host_tables->map(page, page, kSmallPage, kReadOnlyData, true); !s) return s;
        mapped = true;
    }
    if (mapped) write_cr3(read_cr3());  // as map_device_memory (SDM Vol. 3A §5.10.4.1)
    return success();
}

}  // namespace tandem::x86
