// Writes the ELF loader fuzzer's seed corpus: small valid ELF32 and ELF64 guests that fit
// fuzz_elf_loader.cpp's 256 KiB of guest RAM, built with the unit tests' ELF builder.
//   fuzz_elf_seeds OUTPUT_DIR
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <vector>

#include "vmx_fake_elf_builder.hpp"

namespace fs = std::filesystem;
using test::ElfBuilder;
using test::ElfField;

namespace {

std::vector<std::uint8_t> bytes(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + 3 * i);
    return v;
}

void write(const fs::path& path, const std::vector<std::uint8_t>& b) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: fuzz_elf_seeds OUTPUT_DIR\n";
        return 2;
    }
    try {
        fs::path out = argv[1];
        fs::create_directories(out);
        // A kernel-style 64-bit image: text linked high, loaded low; data with bss.
        ElfBuilder kernel(true);
        kernel.entry(0xffff'ffff'8002'0010)
            .segment({0xffff'ffff'8002'0000, 0x20000, bytes(0x100, 1), 0, 5})
            .segment({0xffff'ffff'8002'1000, 0x21000, bytes(0x40, 2), 0x800, 6});
        write(out / "elf64_kernel", kernel.build());
        // A 32-bit guest with a note and an empty PT_LOAD among its segments.
        ElfBuilder guest32(false);
        guest32.entry(0x30000)
            .segment({0, 0, bytes(0x10, 3), 0, 4, 4})
            .segment({0x30000, 0x30000, bytes(0x80, 4), 0x100, 7})
            .segment({0x38000, 0x38000, {}, 0, 6});
        auto f32 = guest32.build();
        guest32.put_field(f32, 2, ElfField::memsz, 0);
        write(out / "elf32_notes", f32);
        // Several small segments, one of them just below guest RAM's end.
        ElfBuilder many(true);
        many.entry(0x10000);
        for (unsigned i = 0; i < 6; ++i) {
            std::uint64_t at = i == 5 ? 0x3f000 : 0x10000 + 0x2000ull * i;
            many.segment({at, at, bytes(0x20, static_cast<std::uint8_t>(i)), 0x1000, 5});
        }
        write(out / "elf64_many", many.build());
    } catch (const std::exception& e) {
        std::cerr << "fuzz_elf_seeds: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
