// libFuzzer: the guest ELF loader (guest-boot/elf_loader.hpp) on arbitrary files, loading into
// 256 KiB of guest RAM with tandem's reserved boot-data range. Checked on every input:
//  - a refused file leaves guest memory exactly as it was (everything is checked before a copy);
//  - an accepted one was copied only inside [lowest, highest), never into the reserved range,
//    and its entry point lies in a loaded segment.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "guest-boot/elf_loader.hpp"
#include "hypervisor/vm/guest_memory.hpp"

namespace {

constexpr std::uint64_t kHostBase = 0x10'0000;
constexpr std::size_t kRamSize = 0x4'0000;  // 256 KiB
constexpr tandem::guest_boot::PhysRegion kReserved{0x1000, 0x10000};
constexpr std::uint8_t kPattern = 0xcc;

class BufferWindow final : public tandem::HostMemoryWindow {
public:
    explicit BufferWindow(std::vector<std::uint8_t>& ram) : ram_(ram) {}
    std::uint8_t* at(std::uint64_t hpa, std::size_t length) const override {
        if (hpa < kHostBase || hpa - kHostBase > ram_.size() || length > ram_.size() - (hpa - kHostBase))
            return nullptr;
        return ram_.data() + (hpa - kHostBase);
    }

private:
    std::vector<std::uint8_t>& ram_;
};

// memcmp against a pristine copy: cheap, and not instrumented byte by byte.
bool untouched(const std::vector<std::uint8_t>& ram, std::uint64_t from, std::uint64_t to) {
    static const std::vector<std::uint8_t> pristine(kRamSize, kPattern);
    return from >= to || std::memcmp(ram.data() + from, pristine.data() + from, to - from) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static auto* ram = new std::vector<std::uint8_t>(kRamSize);
    std::memset(ram->data(), kPattern, ram->size());
    BufferWindow window(*ram);
    tandem::GuestMemory memory(window);
    if (!memory.append(kHostBase, kRamSize)) std::abort();

    auto r = tandem::guest_boot::load_elf(std::span<const std::uint8_t>(data, size), memory, kReserved);
    if (!r) {
        if (!untouched(*ram, 0, kRamSize)) std::abort();
        return 0;
    }
    const tandem::guest_boot::LoadedElf& elf = *r;
    if (elf.segments == 0 || elf.segments > 32) std::abort();
    if (elf.lowest >= elf.highest || elf.highest > kRamSize) std::abort();
    if (elf.entry < elf.entry_segment_base || elf.entry_segment_base < elf.lowest || elf.entry >= elf.highest) {
        std::abort();
    }
    if ((elf.elf_class == tandem::guest_boot::ElfClass::elf64) != (size > 4 && data[4] == 2)) std::abort();
    if (!untouched(*ram, 0, elf.lowest) || !untouched(*ram, elf.highest, kRamSize)) std::abort();
    if (!untouched(*ram, kReserved.start, kReserved.end)) std::abort();
    return 0;
}
