#include "guest-boot/elf_loader.hpp"

#include "hypervisor/util/bytes.hpp"

namespace tandem::guest_boot {
namespace {

// ELF header and program header layouts (System V gABI; x86-64 psABI).
constexpr std::uint8_t kMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr std::uint8_t kClass32 = 1, kClass64 = 2;
constexpr std::uint8_t kLittleEndian = 1;
constexpr std::uint16_t kTypeExec = 2;
constexpr std::uint16_t kMachine386 = 3, kMachineX86_64 = 62;
constexpr std::uint32_t kPtLoad = 1;
constexpr std::uint32_t kPfExecute = 1;
constexpr std::size_t kMaxSegments = 32;

struct Segment {
    std::uint64_t offset, vaddr, paddr, filesz, memsz;
    std::uint32_t flags;
};

struct Header {
    ElfClass elf_class;
    std::uint64_t entry, phoff;
    std::uint16_t phentsize, phnum;
};

Result<Header> parse_header(std::span<const std::uint8_t> f) {
    if (f.size() < 52) return Error::of("elf: file is shorter than an ELF header", f.size());
    for (std::size_t i = 0; i < 4; ++i) {
        if (f[i] != kMagic[i]) return Error::of("elf: not an ELF file (bad magic)");
    }
    if (f[5] != kLittleEndian) return Error::of("elf: not little-endian");
    if (f[6] != 1) return Error::of("elf: unknown ELF version", f[6]);
    Header h{};
    std::uint16_t type = load_le<std::uint16_t>(f, 16);
    std::uint16_t machine = load_le<std::uint16_t>(f, 18);
    if (type != kTypeExec) return Error::of("elf: not an executable (e_type)", type);
    if (f[4] == kClass64) {
        if (f.size() < 64) return Error::of("elf: file is shorter than an ELF64 header", f.size());
        if (machine != kMachineX86_64) return Error::of("elf: ELF64 file is not for x86-64 (e_machine)", machine);
        h.elf_class = ElfClass::elf64;
        h.entry = load_le<std::uint64_t>(f, 24);
        h.phoff = load_le<std::uint64_t>(f, 32);
        h.phentsize = load_le<std::uint16_t>(f, 54);
        h.phnum = load_le<std::uint16_t>(f, 56);
        if (h.phentsize != 56) return Error::of("elf: unexpected program header size", h.phentsize);
    } else if (f[4] == kClass32) {
        if (machine != kMachine386) return Error::of("elf: ELF32 file is not for i386 (e_machine)", machine);
        h.elf_class = ElfClass::elf32;
        h.entry = load_le<std::uint32_t>(f, 24);
        h.phoff = load_le<std::uint32_t>(f, 28);
        h.phentsize = load_le<std::uint16_t>(f, 42);
        h.phnum = load_le<std::uint16_t>(f, 44);
        if (h.phentsize != 32) return Error::of("elf: unexpected program header size", h.phentsize);
    } else {
        return Error::of("elf: unknown ELF class", f[4]);
    }
    if (h.phnum == 0) return Error::of("elf: no program headers");
    if (h.phoff > f.size() || static_cast<std::uint64_t>(h.phnum) * h.phentsize > f.size() - h.phoff) {
        return Error::of("elf: program header table runs past the end of the file", h.phoff);
    }
    return h;
}

Segment read_segment(std::span<const std::uint8_t> f, const Header& h, std::size_t index) {
    std::size_t at = static_cast<std::size_t>(h.phoff) + index * h.phentsize;
    if (h.elf_class == ElfClass::elf64) {
        return {load_le<std::uint64_t>(f, at + 8), load_le<std::uint64_t>(f, at + 16), load_le<std::uint64_t>(f, at + 24),
                load_le<std::uint64_t>(f, at + 32), load_le<std::uint64_t>(f, at + 40), load_le<std::uint32_t>(f, at + 4)};
    }
    return {load_le<std::uint32_t>(f, at + 4), load_le<std::uint32_t>(f, at + 8), load_le<std::uint32_t>(f, at + 12),
            load_le<std::uint32_t>(f, at + 16), load_le<std::uint32_t>(f, at + 20), load_le<std::uint32_t>(f, at + 24)};
}

bool overlaps(std::uint64_t a0, std::uint64_t a1, std::uint64_t b0, std::uint64_t b1) { return a0 < b1 && b0 < a1; }

}  // namespace

Result<LoadedElf> load_elf(std::span<const std::uint8_t> file, GuestMemory& memory, PhysRegion reserved,
                           EntryAddress entry_address) {
    auto header = parse_header(file);
    if (!header) return header.error();
    const Header& h = *header;

    Segment loads[kMaxSegments];
    std::size_t count = 0;
    for (std::size_t i = 0; i < h.phnum; ++i) {
        Segment s = read_segment(file, h, i);
        if (load_le<std::uint32_t>(file, static_cast<std::size_t>(h.phoff) + i * h.phentsize) != kPtLoad) continue;
        if (s.memsz == 0) continue;
        if (count == kMaxSegments) return Error::of("elf: too many loadable segments", kMaxSegments);
        if (s.filesz > s.memsz) return Error::of("elf: segment file size exceeds its memory size", i);
        if (s.offset > file.size() || s.filesz > file.size() - s.offset) {
            return Error::of("elf: segment data runs past the end of the file", i);
        }
        if (s.paddr + s.memsz < s.paddr || !memory.contains(s.paddr, s.memsz)) {
            return Error::of("elf: segment does not fit in guest memory; physical address", s.paddr);
        }
        if (overlaps(s.paddr, s.paddr + s.memsz, reserved.start, reserved.end)) {
            return Error::of("elf: segment overlaps memory tandem reserves for boot data; physical address", s.paddr);
        }
        for (std::size_t j = 0; j < count; ++j) {
            if (overlaps(s.paddr, s.paddr + s.memsz, loads[j].paddr, loads[j].paddr + loads[j].memsz)) {
                return Error::of("elf: segments overlap; physical address", s.paddr);
            }
        }
        loads[count++] = s;
    }
    if (count == 0) return Error::of("elf: no loadable segment");

    LoadedElf result;
    result.elf_class = h.elf_class;
    result.entry_virtual = h.entry;
    bool entry_found = false;
    result.lowest = ~std::uint64_t{0};
    if (entry_address == EntryAddress::physical_or_virtual) {
        for (std::size_t i = 0; i < count && !entry_found; ++i) {
            const Segment& s = loads[i];
            if (h.entry >= s.paddr && h.entry - s.paddr < s.filesz) {
                if (!(s.flags & kPfExecute)) return Error::of("elf: entry point is in a non-executable segment", h.entry);
                result.entry = h.entry;
                result.entry_segment_base = s.paddr;
                entry_found = true;
            }
        }
    }
    const bool physical_entry = entry_found;
    for (std::size_t i = 0; i < count; ++i) {
        const Segment& s = loads[i];
        if (!physical_entry && h.entry >= s.vaddr && h.entry - s.vaddr < s.filesz) {
            if (!(s.flags & kPfExecute)) return Error::of("elf: entry point is in a non-executable segment", h.entry);
            result.entry = s.paddr + (h.entry - s.vaddr);
            result.entry_segment_base = s.paddr;
            entry_found = true;
        }
        if (s.paddr < result.lowest) result.lowest = s.paddr;
        if (s.paddr + s.memsz > result.highest) result.highest = s.paddr + s.memsz;
    }
    if (!entry_found) return Error::of("elf: entry point is not inside a loaded segment", h.entry);

    // Everything checked: copy.
    for (std::size_t i = 0; i < count; ++i) {
        const Segment& s = loads[i];
        auto data = file.subspan(static_cast<std::size_t>(s.offset), static_cast<std::size_t>(s.filesz));
        if (auto st = memory.write(s.paddr, data); !st) return st.error();
        if (auto st = memory.fill(s.paddr + s.filesz, 0, s.memsz - s.filesz); !st) return st.error();
    }
    result.segments = static_cast<unsigned>(count);
    return result;
}

}  // namespace tandem::guest_boot
