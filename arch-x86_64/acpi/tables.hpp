// Walking the ACPI system description tables (ACPI 6.5 §5.2): from the RSDP to the root table,
// the XSDT (§5.2.8, 64-bit entries) or for ACPI 1.0 the RSDT (§5.2.7, 32-bit entries), and from
// it to a table by signature.
//
// The tables lie in physical memory and everything in them is firmware's word: each is read
// through a PhysicalReader, which refuses ranges it cannot vouch for, and checked before anything
// in it is followed: its header readable, its length at least the header and at most
// kMaxTableLength and readable in full, its checksum (§5.2.6: all bytes sum to zero), its
// signature. A root-table entry that points where nothing is readable makes the root table
// malformed. Tables that are not asked for are only identified by their header, never read whole
// (the DSDT alone can be hundreds of KiB).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "arch-x86_64/acpi/acpi_layout.hpp"
#include "arch-x86_64/acpi/rsdp.hpp"
#include "arch-x86_64/boot/multiboot1.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::acpi {

// Bounds the tables tandem reads whole (the root table, the MCFG): 64 KiB is an XSDT of eight
// thousand entries or an MCFG of four thousand ECAM regions; a larger length field is junk.
inline constexpr std::size_t kMaxTableLength = 64 * 1024;

struct Table {
    std::uint64_t address = 0;
    SdtHeader header{};
    std::span<const std::uint8_t> bytes;  // all header.length bytes, checksum verified
};

// Reads the table at `address` and checks it as above; `signature` is the one it must carry.
Result<Table> read_table(const boot::PhysicalReader& memory, std::uint64_t address, std::string_view signature);

struct RootTable {
    Table table;
    bool extended = false;  // XSDT (8-byte entries) rather than RSDT (4-byte entries)

    std::size_t entry_count() const;
    std::uint64_t entry(std::size_t i) const;  // a table's physical address; i < entry_count()
    std::string_view name() const { return extended ? "XSDT" : "RSDT"; }
};

// The XSDT when the RSDP is ACPI 2.0 or later and gives one, otherwise the RSDT. The root table's
// length must hold whole entries. A broken XSDT is an error, not a reason to try the RSDT: firmware
// that gets the table every modern OS reads wrong is not to be trusted with the other one.
Result<RootTable> read_root_table(const boot::PhysicalReader& memory, const RootPointer& rsdp);

struct TableLookup {
    bool found = false;
    std::uint64_t address = 0;  // when found: the first table listed with the signature
};

// Looks through every entry of the root table (null entries, which some firmware leaves, are
// skipped); each non-null entry must point at a readable header. Only the header of the table
// found is read: read_table() then checks it in full, so a caller can tell a broken root table
// from a broken table it lists.
Result<TableLookup> find_table(const boot::PhysicalReader& memory, const RootTable& root, std::string_view signature);

}  // namespace tandem::acpi
