// libFuzzer: the link_key module's text (replication/link/link_key_text.hpp) on arbitrary bytes,
// against an independent reading of the format: the parse succeeds exactly when the input is
// 64 hexadecimal digits among spaces, tabs, CRs and LFs, and then yields those digits' bytes; a
// refusal names the right reason (and the offending offset, or the number of digits found).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "replication/link/link_key_text.hpp"

namespace {

int nibble(std::uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
}

bool space(std::uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool says(const tandem::Error& e, std::string_view what) {
    return std::string_view(e.message).find(what) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto parsed = tandem::link::parse_link_key_text({data, size});
    // The oracle: digits up to the first byte that is neither a digit nor whitespace.
    std::size_t digits = 0;
    std::size_t stray = size;  // offset of the first such byte
    std::uint8_t key[32] = {};
    for (std::size_t i = 0; i < size; ++i) {
        if (space(data[i])) continue;
        const int d = nibble(data[i]);
        if (d < 0) {
            stray = i;
            break;
        }
        if (digits < 64) key[digits / 2] = static_cast<std::uint8_t>(key[digits / 2] << 4 | d);
        ++digits;
        if (digits > 64) break;  // refused here, before any later stray byte
    }
    if (parsed.ok()) {
        if (stray != size || digits != 64) std::abort();
        for (std::size_t i = 0; i < 32; ++i) {
            if ((*parsed)[i] != key[i]) std::abort();
        }
        return 0;
    }
    const tandem::Error& e = parsed.error();
    if (stray != size) {
        if (!says(e, "neither a hexadecimal digit") || e.value != stray) std::abort();
    } else if (digits > 64) {
        if (!says(e, "more than 64")) std::abort();
    } else if (digits == 0) {
        if (!says(e, "no hexadecimal digits")) std::abort();
    } else if (!says(e, "digits found") || e.value != digits || digits == 64) {
        std::abort();
    }
    return 0;
}
