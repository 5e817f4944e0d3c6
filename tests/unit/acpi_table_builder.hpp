// Synthetic ACPI tables for the table walker's tests and fuzz seeds: a byte image to be placed at
// a physical base address (FakePhysicalMemory in the tests), with an RSDP, an XSDT and/or RSDT
// and the tables they list, checksums fixed as firmware would (ACPI 6.5 §5.2.5.3, §5.2.6).
// Tests then break one thing at a time.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "arch-x86_64/acpi/acpi_layout.hpp"

namespace test {

class AcpiImage {
public:
    AcpiImage(std::uint64_t base, std::size_t size) : base_(base), bytes_(size, 0) {}

    std::uint64_t base() const { return base_; }
    std::uint64_t at(std::size_t offset) const { return base_ + offset; }
    std::vector<std::uint8_t>& bytes() { return bytes_; }
    const std::vector<std::uint8_t>& bytes() const { return bytes_; }

    void put8(std::size_t offset, std::uint8_t v) { bytes_.at(offset) = v; }
    void put16(std::size_t offset, std::uint16_t v) { put_le(offset, v, 2); }
    void put32(std::size_t offset, std::uint32_t v) { put_le(offset, v, 4); }
    void put64(std::size_t offset, std::uint64_t v) { put_le(offset, v, 8); }
    std::uint8_t get8(std::size_t offset) const { return bytes_.at(offset); }

    // A table: header (signature, length = 36 + body, revision, OEM ids) and body, checksummed.
    // Returns its physical address.
    std::uint64_t put_table(std::size_t offset, std::string_view signature, const std::vector<std::uint8_t>& body,
                            std::uint8_t revision = 1) {
        std::uint32_t length = static_cast<std::uint32_t>(sizeof(tandem::acpi::SdtHeader) + body.size());
        for (std::size_t i = 0; i < length; ++i) put8(offset + i, 0);
        for (std::size_t i = 0; i < 4; ++i) put8(offset + i, static_cast<std::uint8_t>(signature[i]));
        put32(offset + 4, length);
        put8(offset + 8, revision);
        put_text(offset + 10, "TANDEM");
        put_text(offset + 16, "SYNTHTBL");
        put32(offset + 24, 1);
        for (std::size_t i = 0; i < body.size(); ++i) put8(offset + 36 + i, body[i]);
        fix_table_checksum(offset);
        return at(offset);
    }
    // Recomputes the checksum byte of the table at `offset` from its length field.
    void fix_table_checksum(std::size_t offset) {
        std::uint32_t length = get32(offset + 4);
        put8(offset + 9, 0);
        put8(offset + 9, static_cast<std::uint8_t>(-sum(offset, length)));
    }

    std::uint64_t put_xsdt(std::size_t offset, const std::vector<std::uint64_t>& entries) {
        std::vector<std::uint8_t> body;
        for (std::uint64_t e : entries) append_le(body, e, 8);
        return put_table(offset, "XSDT", body);
    }
    std::uint64_t put_rsdt(std::size_t offset, const std::vector<std::uint32_t>& entries) {
        std::vector<std::uint8_t> body;
        for (std::uint32_t e : entries) append_le(body, e, 4);
        return put_table(offset, "RSDT", body);
    }
    struct Region {
        std::uint64_t base;
        std::uint16_t segment;
        std::uint8_t start_bus;
        std::uint8_t end_bus;
    };
    std::uint64_t put_mcfg(std::size_t offset, const std::vector<Region>& regions) {
        std::vector<std::uint8_t> body(8, 0);  // reserved
        for (const Region& r : regions) {
            append_le(body, r.base, 8);
            append_le(body, r.segment, 2);
            body.push_back(r.start_bus);
            body.push_back(r.end_bus);
            append_le(body, 0, 4);
        }
        return put_table(offset, "MCFG", body);
    }

    // An RSDP at `offset`: revision 0 (20 bytes) or 2 (36 bytes), both checksums fixed.
    void put_rsdp(std::size_t offset, std::uint8_t revision, std::uint32_t rsdt, std::uint64_t xsdt) {
        put_text(offset, "RSD PTR ");
        put_text(offset + 9, "BOCHS ");
        put8(offset + 15, revision);
        put32(offset + 16, rsdt);
        put8(offset + 8, 0);
        put8(offset + 8, static_cast<std::uint8_t>(-sum(offset, 20)));
        if (revision >= 2) {
            put32(offset + 20, 36);
            put64(offset + 24, xsdt);
            put8(offset + 32, 0);
            put8(offset + 32, static_cast<std::uint8_t>(-sum(offset, 36)));
        }
    }
    std::vector<std::uint8_t> slice(std::size_t offset, std::size_t length) const {
        return {bytes_.begin() + static_cast<std::ptrdiff_t>(offset),
                bytes_.begin() + static_cast<std::ptrdiff_t>(offset + length)};
    }

    std::uint32_t get32(std::size_t offset) const {
        std::uint32_t v = 0;
        for (unsigned i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(get8(offset + i)) << (8 * i);
        return v;
    }

private:
    void put_le(std::size_t offset, std::uint64_t v, unsigned n) {
        for (unsigned i = 0; i < n; ++i) put8(offset + i, static_cast<std::uint8_t>(v >> (8 * i)));
    }
    static void append_le(std::vector<std::uint8_t>& out, std::uint64_t v, unsigned n) {
        for (unsigned i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void put_text(std::size_t offset, std::string_view s) {
        for (std::size_t i = 0; i < s.size(); ++i) put8(offset + i, static_cast<std::uint8_t>(s[i]));
    }
    std::uint8_t sum(std::size_t offset, std::size_t length) const {
        unsigned s = 0;
        for (std::size_t i = 0; i < length; ++i) s += get8(offset + i);
        return static_cast<std::uint8_t>(s);
    }

    std::uint64_t base_;
    std::vector<std::uint8_t> bytes_;
};

// The layout most tests start from, at physical 0x7fe0000 (where SeaBIOS keeps QEMU's tables):
// RSDP revision 2 at 0, XSDT at 0x40 and RSDT at 0x100 both listing a FACP at 0x200 and an MCFG
// at 0x300 with the q35 region (0xb0000000, segment 0, buses 0-255).
struct StandardTables {
    static constexpr std::uint64_t kBase = 0x7fe0000;
    static constexpr std::size_t kRsdp = 0, kXsdt = 0x40, kRsdt = 0x100, kFacp = 0x200, kMcfg = 0x300;
    static constexpr std::size_t kSize = 0x1000;

    AcpiImage image{kBase, kSize};

    explicit StandardTables(std::vector<AcpiImage::Region> regions = {{0xb000'0000, 0, 0, 255}}) {
        image.put_table(kFacp, "FACP", std::vector<std::uint8_t>(80, 0x11));
        image.put_mcfg(kMcfg, regions);
        image.put_xsdt(kXsdt, {image.at(kFacp), image.at(kMcfg)});
        image.put_rsdt(kRsdt, {static_cast<std::uint32_t>(image.at(kFacp)), static_cast<std::uint32_t>(image.at(kMcfg))});
        image.put_rsdp(kRsdp, 2, static_cast<std::uint32_t>(image.at(kRsdt)), image.at(kXsdt));
    }
    std::vector<std::uint8_t> rsdp() const { return image.slice(kRsdp, 36); }
};

}  // namespace test
