#include "hypervisor/console/writer.hpp"

namespace tandem {
namespace format_detail {

void put(Writer& w, std::string_view s) { w.write(s); }

void put(Writer& w, const char* s) { w.write(s != nullptr ? std::string_view{s} : "(null)"); }

void put(Writer& w, char c) { w.write(std::string_view{&c, 1}); }

void put(Writer& w, bool b) { w.write(b ? "true" : "false"); }

void put(Writer& w, YesNo b) { w.write(b.value ? "yes" : "no"); }

void put_unsigned(Writer& w, std::uint64_t v) {
    char digits[20];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    char out[20];
    for (int i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    w.write({out, static_cast<std::size_t>(n)});
}

void put_signed(Writer& w, std::int64_t v) {
    if (v < 0) {
        w.write("-");
        // Negate in unsigned arithmetic so INT64_MIN is printed correctly.
        put_unsigned(w, ~static_cast<std::uint64_t>(v) + 1);
    } else {
        put_unsigned(w, static_cast<std::uint64_t>(v));
    }
}

void put(Writer& w, Hex h) {
    static constexpr char kDigits[] = "0123456789abcdef";
    char out[18] = {'0', 'x'};
    int n = 0;
    char rev[16];
    std::uint64_t v = h.value;
    do {
        rev[n++] = kDigits[v & 0xf];
        v >>= 4;
    } while (v != 0);
    int width = h.min_digits > 16 ? 16 : h.min_digits;
    while (n < width) rev[n++] = '0';
    for (int i = 0; i < n; ++i) out[2 + i] = rev[n - 1 - i];
    w.write({out, static_cast<std::size_t>(n + 2)});
}

void put(Writer& w, HexDigits h) {
    static constexpr char kDigits[] = "0123456789abcdef";
    char out[16];
    int n = h.digits < 1 ? 1 : (h.digits > 16 ? 16 : h.digits);
    std::uint64_t v = h.value;
    while (n < 16 && (v >> (4 * n)) != 0) ++n;
    for (int i = n - 1; i >= 0; --i) {
        out[i] = kDigits[v & 0xf];
        v >>= 4;
    }
    w.write({out, static_cast<std::size_t>(n)});
}

void put(Writer& w, Bytes b) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    std::uint64_t v = b.value;
    int unit = 0;
    while (unit < 4 && v >= 1024) {
        v /= 1024;
        ++unit;
    }
    put_unsigned(w, v);
    // One decimal (truncated) when the value is not a whole number of the unit: "254.7 MiB".
    if (unit > 0) {
        std::uint64_t scale = 1ull << (10 * unit);
        std::uint64_t rest = b.value % scale;
        if (rest != 0) {
            w.write(".");
            put_unsigned(w, rest * 10 / scale);
        }
    }
    w.write(" ");
    w.write(kUnits[unit]);
}

void put(Writer& w, ColonHex b) {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (std::size_t i = 0; i < b.size; ++i) {
        char pair[3] = {kDigits[b.data[i] >> 4], kDigits[b.data[i] & 0xf], ':'};
        w.write({pair, i + 1 < b.size ? 3u : 2u});
    }
}

void put(Writer& w, const Error& e) {
    w.write(e.message);
    if (e.has_value) {
        w.write(" (");
        put(w, Hex{e.value, 1});
        w.write(")");
    }
}

std::string_view put_until_placeholder(Writer& w, std::string_view fmt, bool& found) {
    std::size_t pos = fmt.find("{}");
    if (pos == std::string_view::npos) {
        w.write(fmt);
        found = false;
        return {};
    }
    w.write(fmt.substr(0, pos));
    found = true;
    return fmt.substr(pos + 2);
}

}  // namespace format_detail

void BufferWriter::write(std::string_view text) {
    for (char c : text) {
        if (size_ < capacity_) {
            buffer_[size_++] = c;
        } else {
            ++dropped_;
        }
    }
}

}  // namespace tandem
