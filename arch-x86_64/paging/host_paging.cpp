#include "arch-x86_64/paging/host_paging.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/paging/identity_table_memory.hpp"

extern "C" char __text_start[], __text_end[], __rodata_start[], __rodata_end[], __data_start[], __data_end[];

namespace tandem::x86 {
namespace {

// Page tables must be reachable through the boot loader's identity map while we build them.
constexpr std::uint64_t kBootMapLimit = 4ull << 30;

std::uint64_t addr(const char* p) { return reinterpret_cast<std::uint64_t>(p); }

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
    IdentityTableMemory memory(frames, kBootMapLimit);
    PageTableBuilder<IdentityTableMemory> builder(memory);
    if (auto s = build_host_address_space(builder, std::span<const HostMapping>{plan, *count}); !s) return s.error();
    // CR0.WP makes read-only pages read-only for the hypervisor too (SDM Vol. 3A §2.5); the
    // trampoline set it and EFER.NXE, which the NX bits rely on. Writing CR3 flushes the TLB.
    write_cr0(read_cr0() | (1ull << 16));
    write_cr3(builder.root());
    return HostPagingReport{*count, memory.tables(), builder.root()};
}

}  // namespace tandem::x86
