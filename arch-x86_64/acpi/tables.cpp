#include "arch-x86_64/acpi/tables.hpp"

namespace tandem::acpi {
namespace {

bool signature_is(const SdtHeader& header, std::string_view signature) {
    return std::string_view{header.signature, 4} == signature;
}

std::size_t entry_size(bool extended) { return extended ? kXsdtEntrySize : kRsdtEntrySize; }

}  // namespace

Result<Table> read_table(const boot::PhysicalReader& memory, std::uint64_t address, std::string_view signature) {
    if (address == 0) return Error::of("the table address is null");
    std::span<const std::uint8_t> head = memory.bytes(address, sizeof(SdtHeader));
    if (head.size() != sizeof(SdtHeader)) return Error::of("the table's header lies outside readable memory", address);
    Table table;
    table.address = address;
    table.header = decode<SdtHeader>(head);
    if (!signature_is(table.header, signature)) {
        return Error::of("the table at this address does not carry the expected signature", address);
    }
    std::uint32_t length = table.header.length;
    if (length < sizeof(SdtHeader)) return Error::of("the table's length is below its 36-byte header", length);
    if (length > kMaxTableLength) return Error::of("the table's length is beyond 64 KiB", length);
    table.bytes = memory.bytes(address, length);
    if (table.bytes.size() != length) return Error::of("the table runs past readable memory", address);
    if (byte_sum(table.bytes) != 0) return Error::of("the table's bytes do not sum to zero (bad checksum)", address);
    return table;
}

std::size_t RootTable::entry_count() const {
    return (table.bytes.size() - sizeof(SdtHeader)) / entry_size(extended);
}

std::uint64_t RootTable::entry(std::size_t i) const {
    // XSDT entries are only 4-byte aligned (§5.2.8): copy, never dereference in place.
    std::span<const std::uint8_t> at = table.bytes.subspan(sizeof(SdtHeader) + i * entry_size(extended));
    return extended ? decode<std::uint64_t>(at) : decode<std::uint32_t>(at);
}

Result<RootTable> read_root_table(const boot::PhysicalReader& memory, const RootPointer& rsdp) {
    RootTable root;
    root.extended = rsdp.revision >= 2 && rsdp.xsdt_address != 0;
    std::uint64_t address = root.extended ? rsdp.xsdt_address : rsdp.rsdt_address;
    auto table = read_table(memory, address, root.name());
    if (!table) return table.error();
    root.table = *table;
    if ((root.table.bytes.size() - sizeof(SdtHeader)) % entry_size(root.extended) != 0) {
        return Error::of("the root table's length leaves a partial entry", root.table.header.length);
    }
    return root;
}

Result<TableLookup> find_table(const boot::PhysicalReader& memory, const RootTable& root, std::string_view signature) {
    for (std::size_t i = 0; i < root.entry_count(); ++i) {
        std::uint64_t address = root.entry(i);
        if (address == 0) continue;
        std::span<const std::uint8_t> head = memory.bytes(address, sizeof(SdtHeader));
        if (head.size() != sizeof(SdtHeader)) {
            return Error::of("an entry of the root table points outside readable memory", address);
        }
        if (signature_is(decode<SdtHeader>(head), signature)) return TableLookup{true, address};
    }
    return TableLookup{};
}

}  // namespace tandem::acpi
