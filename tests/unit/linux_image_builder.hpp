// Builds small synthetic Linux kernel images for the boot-protocol tests and the fuzzer's seeds:
// a bzImage (boot sector, setup sectors with the setup header at 0x1f1, the protected-mode kernel
// with a payload inside) whose every header field a test may set or corrupt, and a vmlinux-like
// ELF64 (segments linked high and loaded low, e_entry physical as Linux links it). Field offsets
// follow Documentation/arch/x86/boot.rst. No doctest here: tests/fuzz uses it too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "vmx_fake_elf_builder.hpp"

namespace test {

struct BzImageSpec {
    std::uint8_t setup_sects = 4;          // the raw field (0 means 4)
    std::uint16_t boot_flag = 0xaa55;
    std::uint32_t magic = 0x53726448;      // "HdrS"
    std::uint16_t version = 0x020f;
    std::uint8_t jump_length = 0x6a;       // header ends at 0x202 + this
    std::uint8_t loadflags = 0x01;         // LOADED_HIGH
    std::uint16_t xloadflags = 0x03;       // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
    std::uint32_t kernel_size = 0x3000;    // bytes of protected-mode kernel in the file
    std::uint32_t syssize = 0;             // 0: kernel_size in paragraphs
    std::uint32_t init_size = 0x100000;
    std::uint32_t kernel_alignment = 0x200000;
    std::uint8_t relocatable = 1;
    std::uint8_t min_alignment = 21;
    std::uint64_t pref_address = 0x1000000;
    std::uint32_t cmdline_size = 2047;
    std::uint32_t initrd_addr_max = 0x7fffffff;
    std::uint32_t payload_offset = 0x200;
    std::uint32_t payload_length = 0x1000;
    std::string version_string = "6.1.0-tandem-test (builder@tandem) #1 SMP";
};

// The byte at offset i of the synthetic protected-mode kernel (so a test can check the copy).
inline std::uint8_t kernel_byte(std::size_t i) { return static_cast<std::uint8_t>(i * 13 + 7); }

class BzImageBuilder {
public:
    static constexpr std::size_t kVersionOffset = 0x400;  // in the second setup sector

    static void put(std::vector<std::uint8_t>& f, std::size_t at, std::size_t size, std::uint64_t value) {
        for (std::size_t i = 0; i < size; ++i) f[at + i] = static_cast<std::uint8_t>(value >> (8 * i));
    }
    static std::size_t setup_size(const BzImageSpec& s) {
        return (std::size_t{s.setup_sects == 0 ? 4u : s.setup_sects} + 1) * 512;
    }

    static std::vector<std::uint8_t> build(const BzImageSpec& s) {
        const std::size_t setup = setup_size(s);
        std::vector<std::uint8_t> f(setup + s.kernel_size, 0);
        for (std::size_t i = 0; i < s.kernel_size; ++i) f[setup + i] = kernel_byte(i);
        // The payload starts with xz's magic, as Debian's does.
        const std::uint8_t xz[6] = {0xfd, '7', 'z', 'X', 'Z', 0};
        for (std::size_t i = 0; i < 6 && s.payload_offset + i < s.kernel_size && s.payload_length > i; ++i) {
            f[setup + s.payload_offset + i] = xz[i];
        }
        put(f, 0x1f1, 1, s.setup_sects);
        put(f, 0x1f4, 4, s.syssize != 0 ? s.syssize : (s.kernel_size + 15) / 16);
        put(f, 0x1fe, 2, s.boot_flag);
        put(f, 0x200, 1, 0xeb);
        put(f, 0x201, 1, s.jump_length);
        put(f, 0x202, 4, s.magic);
        put(f, 0x206, 2, s.version);
        put(f, 0x20e, 2, kVersionOffset - 0x200);
        put(f, 0x211, 1, s.loadflags);
        put(f, 0x214, 4, 0x100000);  // code32_start as the kernel's build leaves it
        put(f, 0x22c, 4, s.initrd_addr_max);
        put(f, 0x230, 4, s.kernel_alignment);
        put(f, 0x234, 1, s.relocatable);
        put(f, 0x235, 1, s.min_alignment);
        put(f, 0x236, 2, s.xloadflags);
        put(f, 0x238, 4, s.cmdline_size);
        put(f, 0x248, 4, s.payload_offset);
        put(f, 0x24c, 4, s.payload_length);
        put(f, 0x258, 8, s.pref_address);
        put(f, 0x260, 4, s.init_size);
        put(f, 0x264, 4, 0x190);  // handover_offset
        put(f, 0x268, 4, 0x1a0);  // kernel_info_offset
        // Setup code after the header: marks that must not reach the zero page.
        for (std::size_t i = 0x202 + std::size_t{s.jump_length}; i < 0x290 && i < setup; ++i) f[i] = 0x5a;
        if (kVersionOffset + s.version_string.size() < setup) {
            for (std::size_t i = 0; i < s.version_string.size(); ++i) {
                f[kVersionOffset + i] = static_cast<std::uint8_t>(s.version_string[i]);
            }
        }
        return f;
    }
};

// A vmlinux-like ELF64: text (R+X) at virtual 0xffffffff80000000 + phys, data (RW) after it, a
// per-CPU segment linked at virtual 0 (as x86-64 SMP kernels have), and init + bss last.
// e_entry is the physical address of the text, as Linux links it.
inline ElfBuilder vmlinux_like(std::uint64_t phys = 0x1000000, bool virtual_entry = false) {
    constexpr std::uint64_t kMap = 0xffff'ffff'8000'0000ull;  // __START_KERNEL_map
    auto bytes = [](std::size_t n, std::uint8_t seed) {
        std::vector<std::uint8_t> v(n);
        for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 5);
        return v;
    };
    ElfBuilder b(true);
    b.entry(virtual_entry ? kMap + phys : phys)
        .segment({kMap + phys, phys, bytes(0x800, 1), 0x2000, 5})
        .segment({kMap + phys + 0x2000, phys + 0x2000, bytes(0x200, 2), 0x1000, 6})
        .segment({0, phys + 0x3000, bytes(0x100, 3), 0x1000, 6})
        .segment({kMap + phys + 0x4000, phys + 0x4000, bytes(0x100, 4), 0x4000, 7})
        .segment({kMap + phys + 0x2100, phys + 0x2100, bytes(0x10, 5), 0, 4, 4});  // PT_NOTE
    return b;
}

}  // namespace test
