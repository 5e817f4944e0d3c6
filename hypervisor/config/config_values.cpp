#include "hypervisor/config/config_values.hpp"

#include "hypervisor/util/decimal.hpp"
#include "hypervisor/util/hex_digits.hpp"

namespace tandem::config_values {
namespace {

// "bb:dd.f" in hex, the form lspci prints.
bool parse_pci_address(std::string_view v, NicSelector& out) {
    if (v.size() != 7 || v[2] != ':' || v[5] != '.') return false;
    int b1 = hex_digit(v[0]), b0 = hex_digit(v[1]), d1 = hex_digit(v[3]), d0 = hex_digit(v[4]);
    int f = hex_digit(v[6]);
    if (b1 < 0 || b0 < 0 || d1 < 0 || d0 < 0 || f < 0) return false;
    int device = d1 << 4 | d0;
    if (device > 31 || f > 7) return false;
    out.kind = NicSelector::Kind::pci;
    out.bus = static_cast<std::uint8_t>(b1 << 4 | b0);
    out.device = static_cast<std::uint8_t>(device);
    out.function = static_cast<std::uint8_t>(f);
    return true;
}

}  // namespace

bool parse_size(std::string_view v, std::uint64_t& out) {
    if (v.empty()) return false;
    unsigned shift = 0;
    switch (v.back()) {
        case 'K': case 'k': shift = 10; break;
        case 'M': case 'm': shift = 20; break;
        case 'G': case 'g': shift = 30; break;
        default: break;
    }
    if (shift != 0) v.remove_suffix(1);
    std::uint64_t n = 0;
    if (!parse_decimal(v, n) || n > (~std::uint64_t{0} >> shift)) return false;
    out = n << shift;
    return true;
}

bool parse_mac(std::string_view v, MacAddress& out) {
    if (v.size() != 17) return false;
    for (int i = 0; i < 6; ++i) {
        int hi = hex_digit(v[static_cast<std::size_t>(i * 3)]);
        int lo = hex_digit(v[static_cast<std::size_t>(i * 3 + 1)]);
        if (hi < 0 || lo < 0) return false;
        if (i < 5 && v[static_cast<std::size_t>(i * 3 + 2)] != ':') return false;
        out.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
}

bool parse_nic(std::string_view v, NicSelector& out) {
    if (parse_pci_address(v, out)) return true;
    MacAddress mac{};
    if (!parse_mac(v, mac)) return false;
    out.kind = NicSelector::Kind::mac;
    out.mac = mac;
    return true;
}

bool parse_ipv4(std::string_view v, std::uint8_t (&out)[4]) {
    std::uint8_t ip[4];
    for (int i = 0; i < 4; ++i) {
        std::size_t end = i < 3 ? v.find('.') : v.size();
        if (end == std::string_view::npos || end == 0 || end > 3) return false;
        std::uint64_t n = 0;
        if (!parse_decimal(v.substr(0, end), n) || n > 255) return false;
        ip[i] = static_cast<std::uint8_t>(n);
        v = i < 3 ? v.substr(end + 1) : std::string_view{};
    }
    for (int i = 0; i < 4; ++i) out[i] = ip[i];
    return true;
}

bool parse_key(std::string_view v, std::uint8_t (&out)[32]) {
    if (v.size() != 64) return false;
    for (std::size_t i = 0; i < 32; ++i) {
        int hi = hex_digit(v[2 * i]), lo = hex_digit(v[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
}

bool parse_ipv4_prefix(std::string_view v, std::uint8_t (&address)[4], std::uint8_t& prefix) {
    std::size_t slash = v.find('/');
    if (slash == std::string_view::npos || slash + 1 == v.size() || v.size() - slash - 1 > 2) return false;
    std::uint64_t bits = 0;
    if (!parse_decimal(v.substr(slash + 1), bits) || bits < 1 || bits > 30) return false;
    if (!parse_ipv4(v.substr(0, slash), address)) return false;
    prefix = static_cast<std::uint8_t>(bits);
    return true;
}

}  // namespace tandem::config_values
