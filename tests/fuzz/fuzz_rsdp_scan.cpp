// libFuzzer: the RSDP search in the BIOS areas (arch-x86_64/acpi/rsdp_scan.cpp) over fuzzed low
// memory: the EBDA segment word at 0x40e, the first KiB of the EBDA it points to, and the BIOS
// area 0xe0000-0xfffff, any of which may be unreadable. Input layout (fuzz::Input):
//   u16  the word at 0x40e (the EBDA's segment)
//   u8   bit 0: the BDA is unreadable, bit 1: conventional memory from 0x80000 is, bit 2: the
//        BIOS area is, bit 3: only the first 512 bytes of the EBDA are readable
//   u16  how many of the following bytes go at the EBDA (& 0x7ff), then those bytes
//   u16  where the rest goes in the BIOS area (x 16 bytes), then the rest
// Checked, beyond ASan/UBSan: the search asks the reader only for the segment word, the EBDA's
// first KiB (only for a segment inside 0x80000-0x9fc00) and the whole BIOS area, each once at
// most, and it finds exactly what an independent reading of ACPI 6.5 §5.2.5.1 finds: the first
// 16-byte-aligned place, EBDA before BIOS area, where parse_rsdp accepts the bytes up to the
// area's end (at most 256); the RSDP it returns is that place's bytes, of the parsed length, in
// the reader's memory; and without one, the error says so.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "arch-x86_64/acpi/rsdp.hpp"
#include "arch-x86_64/acpi/rsdp_scan.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using namespace tandem::acpi;

// A failed check names its line before the trap, so a reproducer says which property broke.
[[noreturn]] void fail(int line = __builtin_LINE()) {
    std::fprintf(stderr, "%s:%d: check failed\n", __FILE__, line);
    __builtin_trap();
}
void check(bool ok, int line = __builtin_LINE()) {
    if (!ok) fail(line);
}

constexpr std::uint64_t kLowMemory = 0x100000;
constexpr std::uint64_t kEbdaLowest = 0x80000, kEbdaEnd = 0xa0000;
constexpr std::uint64_t kRsdpMinimum = 20;  // ACPI 1.0: signature to RSDT address

struct Range {
    std::uint64_t start, end;
    bool contains(std::uint64_t a, std::size_t n) const { return a >= start && a <= end && n <= end - a; }
};

class LowMemory final : public tandem::boot::PhysicalReader {
public:
    std::vector<std::uint8_t> bytes_ = std::vector<std::uint8_t>(kLowMemory);
    std::vector<Range> readable;
    mutable std::vector<Range> asked;

    std::span<const std::uint8_t> bytes(std::uint64_t phys, std::size_t length) const override {
        asked.push_back({phys, phys + length});
        if (!readable_range(phys, length)) return {};
        return {bytes_.data() + phys, length};
    }
    bool readable_range(std::uint64_t phys, std::size_t length) const {
        for (const Range& r : readable) {
            if (r.contains(phys, length)) return true;
        }
        return false;
    }
};

struct Expected {
    bool found = false;
    std::uint64_t address = 0;
    std::size_t length = 0;
};

// ACPI 6.5 §5.2.5.1 read independently: every 16-byte boundary in order, the first RSDP that
// parses from the bytes up to the area's end.
bool scan(const LowMemory& m, std::uint64_t start, std::uint64_t length, Expected& out) {
    if (!m.readable_range(start, length)) return false;
    for (std::uint64_t at = 0; at + kRsdpMinimum <= length; at += 16) {
        std::uint64_t room = length - at < kMaxRsdpLength ? length - at : kMaxRsdpLength;
        auto r = parse_rsdp({m.bytes_.data() + start + at, room});
        if (r) {
            out = {true, start + at, r->length};
            return true;
        }
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    static LowMemory* memory = new LowMemory;
    LowMemory& m = *memory;
    std::memset(m.bytes_.data(), 0, m.bytes_.size());
    m.asked.clear();
    m.readable.clear();

    std::uint16_t segment = in.u16();
    std::uint8_t flags = in.u8();
    std::uint64_t ebda = static_cast<std::uint64_t>(segment) << 4;
    auto ebda_bytes = in.bytes(in.u16() & 0x7ff);
    for (std::size_t i = 0; i < ebda_bytes.size() && ebda + i < kLowMemory; ++i) m.bytes_[ebda + i] = ebda_bytes[i];
    // The word last: a segment below 0x80000 may put the "EBDA" bytes over it.
    m.bytes_[kEbdaSegmentPointer] = static_cast<std::uint8_t>(segment);
    m.bytes_[kEbdaSegmentPointer + 1] = static_cast<std::uint8_t>(segment >> 8);
    std::uint64_t bios_at = kBiosAreaStart + (static_cast<std::uint64_t>(in.u16()) * 16) % (kBiosAreaEnd - kBiosAreaStart);
    auto bios_bytes = in.rest();
    for (std::size_t i = 0; i < bios_bytes.size() && bios_at + i < kBiosAreaEnd; ++i) m.bytes_[bios_at + i] = bios_bytes[i];

    if (!(flags & 1)) m.readable.push_back({0, 0x1000});
    m.readable.push_back({0x1000, kEbdaLowest});
    if (!(flags & 2)) {
        if (flags & 8) {
            m.readable.push_back({kEbdaLowest, ebda + 512 > kEbdaLowest ? ebda + 512 : kEbdaLowest});
        } else {
            m.readable.push_back({kEbdaLowest, kEbdaEnd});
        }
    }
    if (!(flags & 4)) m.readable.push_back({kBiosAreaStart, kBiosAreaEnd});

    Expected expected;
    bool ebda_valid = ebda >= kEbdaLowest && ebda + kEbdaSearchLength <= kEbdaEnd;
    bool bda = m.readable_range(kEbdaSegmentPointer, 2);
    if (!(bda && ebda_valid && scan(m, ebda, kEbdaSearchLength, expected))) {
        scan(m, kBiosAreaStart, kBiosAreaEnd - kBiosAreaStart, expected);
    }

    auto found = find_rsdp_in_bios_areas(m);

    // What it asked for: the segment word, then at most the EBDA's first KiB and the BIOS area.
    check(!m.asked.empty() && m.asked[0].start == kEbdaSegmentPointer && m.asked[0].end == kEbdaSegmentPointer + 2);
    bool asked_ebda = false, asked_bios = false;
    for (std::size_t i = 1; i < m.asked.size(); ++i) {
        const Range& r = m.asked[i];
        if (r.start == kBiosAreaStart && r.end == kBiosAreaEnd && !asked_bios) {
            asked_bios = true;
        } else if (r.start == ebda && r.end == ebda + kEbdaSearchLength && !asked_ebda && !asked_bios && bda &&
                   ebda_valid) {
            asked_ebda = true;
        } else {
            std::fprintf(stderr, "asked for [%#llx, %#llx)\n", static_cast<unsigned long long>(r.start),
                         static_cast<unsigned long long>(r.end));
            fail();
        }
    }

    check(found.ok() == expected.found);
    if (!found) {
        check(std::string_view(found.error().message) == "no valid RSDP in the EBDA or in the BIOS area 0xe0000-0xfffff");
        return 0;
    }
    check(found->address == expected.address && found->address % 16 == 0);
    check(found->bytes.size() == expected.length);
    check(found->bytes.data() == m.bytes_.data() + found->address);
    auto again = parse_rsdp(found->bytes);
    check(again.ok() && again->length == found->bytes.size());
    return 0;
}
