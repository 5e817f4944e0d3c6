#include "arch-x86_64/acpi/rsdp.hpp"

#include "arch-x86_64/acpi/acpi_layout.hpp"

namespace tandem::acpi {

Result<RootPointer> parse_rsdp(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < kRsdpV1Size) return Error::of("the RSDP is shorter than 20 bytes", bytes.size());
    Rsdp rsdp = decode<Rsdp>(bytes);  // zero past the 20 bytes when only those were given
    if (std::string_view{rsdp.signature, 8} != kRsdpSignature) return Error::of("the RSDP signature is not \"RSD PTR \"");
    if (std::uint8_t sum = byte_sum(bytes.first(kRsdpV1Size)); sum != 0) {
        return Error::of("the RSDP checksum (bytes 0-19) does not sum to zero", sum);
    }
    RootPointer out;
    out.revision = rsdp.revision;
    for (std::size_t i = 0; i < sizeof out.oem_id; ++i) out.oem_id[i] = rsdp.oem_id[i];
    out.rsdt_address = rsdp.rsdt_address;
    out.length = kRsdpV1Size;
    if (rsdp.revision < 2) {
        if (out.rsdt_address == 0) return Error::of("the ACPI 1.0 RSDP gives no RSDT address");
        return out;
    }
    if (bytes.size() < kRsdpV2Size) return Error::of("the ACPI 2.0+ RSDP is shorter than 36 bytes", bytes.size());
    if (rsdp.length < kRsdpV2Size) return Error::of("the RSDP length field is below 36", rsdp.length);
    if (rsdp.length > kMaxRsdpLength) return Error::of("the RSDP length field is beyond 256", rsdp.length);
    if (rsdp.length > bytes.size()) return Error::of("the RSDP length field runs past the bytes given", rsdp.length);
    if (std::uint8_t sum = byte_sum(bytes.first(rsdp.length)); sum != 0) {
        return Error::of("the RSDP extended checksum does not sum to zero", sum);
    }
    out.xsdt_address = rsdp.xsdt_address;
    out.length = rsdp.length;
    if (out.xsdt_address == 0 && out.rsdt_address == 0) return Error::of("the RSDP gives neither an RSDT nor an XSDT address");
    return out;
}

}  // namespace tandem::acpi
