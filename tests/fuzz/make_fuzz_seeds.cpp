// Writes the fuzzers' seed corpora (raw bytes, which libFuzzer needs) from the unit-test
// fixtures and a few synthetic inputs:  make_fuzz_seeds FIXTURES_DIR OUTPUT_DIR
// Output: OUTPUT_DIR/{multiboot2,multiboot1,config,linux_boot}/<name>.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "linux_image_builder.hpp"  // tests/unit

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

Bytes read_hex(const fs::path& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    Bytes out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        for (std::size_t i = 0; i + 1 < line.size(); i += 2) {
            out.push_back(static_cast<std::uint8_t>(std::stoul(line.substr(i, 2), nullptr, 16)));
        }
    }
    return out;
}

void put32(Bytes& b, std::size_t at, std::uint32_t v) {
    if (b.size() < at + 4) b.resize(at + 4);
    for (std::size_t i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put64(Bytes& b, std::size_t at, std::uint64_t v) {
    put32(b, at, static_cast<std::uint32_t>(v));
    put32(b, at + 4, static_cast<std::uint32_t>(v >> 32));
}
void put_string(Bytes& b, std::size_t at, const std::string& s) {
    if (b.size() < at + s.size() + 1) b.resize(at + s.size() + 1);
    for (std::size_t i = 0; i < s.size(); ++i) b[at + i] = static_cast<std::uint8_t>(s[i]);
    b[at + s.size()] = 0;
}

void write(const fs::path& path, const Bytes& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}
void write(const fs::path& path, const std::string& text) { write(path, Bytes(text.begin(), text.end())); }

// A multiboot 1 information structure at fuzz_multiboot1.cpp's kBase (0x10000) with every
// field the parser reads.
Bytes multiboot1_seed() {
    constexpr std::uint32_t kBase = 0x10000;
    Bytes b(0x200, 0);
    put32(b, 0, (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
    put32(b, 16, kBase + 0x60);  // cmdline
    put_string(b, 0x60, "/boot/tandem.elf mode=standalone");
    put32(b, 64, kBase + 0x90);  // loader name
    put_string(b, 0x90, "qemu");
    put32(b, 20, 2);             // modules
    put32(b, 24, kBase + 0xa0);
    put32(b, 0xa0, 0x100000), put32(b, 0xa4, 0x180000), put32(b, 0xa8, kBase + 0xc0);
    put32(b, 0xb0, 0x200000), put32(b, 0xb4, 0x200800), put32(b, 0xb8, 0);
    put_string(b, 0xc0, "kernel");
    put32(b, 44, 48);            // memory map: two 20-byte entries
    put32(b, 48, kBase + 0x100);
    put32(b, 0x100, 20), put64(b, 0x104, 0), put64(b, 0x10c, 0x9fc00), put32(b, 0x114, 1);
    put32(b, 0x118, 20), put64(b, 0x11c, 0x100000), put64(b, 0x124, 0x7f00000), put32(b, 0x12c, 1);
    return b;
}

// Small bzImages and vmlinux-like ELF files (tests/unit/linux_image_builder.hpp) that load into
// fuzz_linux_boot.cpp's 4 MiB of guest RAM: kernel at 2 MiB, init_size 1 MiB.
void linux_boot_seeds(const fs::path& dir) {
    test::BzImageSpec spec;
    spec.kernel_size = 0x1000;
    spec.payload_offset = 0x100;
    spec.payload_length = 0x400;
    spec.pref_address = 0x200000;
    Bytes image = test::BzImageBuilder::build(spec);
    image.push_back(0x23);  // the fuzzer's knob: initrd size and page size
    write(dir / "bzimage", image);
    test::BzImageSpec old = spec;
    old.setup_sects = 0;
    old.jump_length = 0x66;
    old.version = 0x020c;
    old.relocatable = 0;
    write(dir / "bzimage_setup0_fixed", test::BzImageBuilder::build(old));
    test::BzImageSpec tight = spec;
    tight.init_size = 0x200000;
    tight.payload_offset = 0;
    tight.payload_length = 0;
    Bytes tight_image = test::BzImageBuilder::build(tight);
    tight_image.push_back(0xc0);
    write(dir / "bzimage_tight", tight_image);
    write(dir / "vmlinux", test::vmlinux_like(0x200000).build());
    write(dir / "vmlinux_virtual_entry", test::vmlinux_like(0x200000, true).build());
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: make_fuzz_seeds FIXTURES_DIR OUTPUT_DIR\n";
        return 2;
    }
    try {
        fs::path fixtures = argv[1], out = argv[2];
        for (const char* d : {"multiboot2", "multiboot1", "config", "linux_boot"}) fs::create_directories(out / d);

        Bytes grub = read_hex(fixtures / "mbi_grub_bochs.hex");
        write(out / "multiboot2" / "grub_bochs", grub);
        Bytes minimal;
        put32(minimal, 0, 16), put32(minimal, 4, 0), put32(minimal, 8, 0), put32(minimal, 12, 8);
        write(out / "multiboot2" / "minimal", minimal);

        Bytes mb1 = multiboot1_seed();
        write(out / "multiboot1" / "qemu_like", mb1);
        put32(mb1, 0, 0);
        write(out / "multiboot1" / "no_flags", mb1);

        write(out / "config" / "grub", std::string("dump_boot_info=1 mode=standalone \"guest_cmdline=console=ttyS0 quiet\""));
        write(out / "config" / "all_keys",
              std::string("role=backup mode=checkpoint epoch_ms=50 guest_mem=256M failover_ms=300 dirty=pml "
                          "key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f "
                          "peer_mac=52:54:00:12:34:56 link_nic=00:03.0 client_nic=52:54:00:ab:cd:ef insecure_link=1 "
                          "guest_kernel=kernel guest_initrd=initrd guest_cmdline=a\\ b selftest=none dump_boot_info=0"));
        write(out / "config" / "multiboot1", std::string("/boot/tandem.elf mode=lockstep guest_mem=1G"));
        // Past the 4096 bytes of storage, so the fuzzer's length limit starts above it.
        write(out / "config" / "too_long", "mode=lockstep guest_cmdline=" + std::string(4100, 'x'));
        write(out / "config" / "errors", std::string("bogus=1 mode=fast quiet mode=migrate \"unterminated"));

        linux_boot_seeds(out / "linux_boot");
    } catch (const std::exception& e) {
        std::cerr << "make_fuzz_seeds: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
