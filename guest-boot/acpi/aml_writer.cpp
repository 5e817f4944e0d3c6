#include "guest-boot/acpi/aml_writer.hpp"

namespace tandem::guest_boot::acpi::aml {
namespace {

// §20.2.2: LeadNameChar is A-Z or "_", NameChar adds 0-9.
constexpr bool lead_name_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
constexpr bool name_char(char c) { return lead_name_char(c) || (c >= '0' && c <= '9'); }

constexpr int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

unsigned encode_pkg_length(std::uint32_t length, std::uint8_t (&out)[4]) {
    if (length <= 0x3f) {
        out[0] = static_cast<std::uint8_t>(length);
        return 1;
    }
    if (length > kMaxPkgLength) return 0;
    unsigned follow = length <= 0xfff ? 1 : length <= 0xf'ffff ? 2 : 3;
    out[0] = static_cast<std::uint8_t>((follow << 6) | (length & 0x0f));
    for (unsigned i = 1; i <= follow; ++i) out[i] = static_cast<std::uint8_t>(length >> (4 + 8 * (i - 1)));
    return follow + 1;
}

unsigned pkg_length_size_for_content(std::size_t content) {
    // The value counts the PkgLength itself, so each size is tried with its own bytes added.
    constexpr std::size_t kLimit[] = {0x3f, 0xfff, 0xf'ffff, kMaxPkgLength};
    for (unsigned n = 1; n <= 4; ++n) {
        if (content <= kLimit[n - 1] - n) return n;
    }
    return 0;
}

void Writer::fail(Error e) {
    if (ok_) error_ = e;
    ok_ = false;
}

std::uint8_t* Writer::insert(std::size_t at, std::size_t n) {
    if (!ok_) return nullptr;
    if (measuring_) {
        size_ += n;
        return nullptr;
    }
    if (at > size_ || n > buffer_.size() - size_) {
        fail(Error::of("acpi: AML does not fit its buffer (bytes needed, at least)", size_ + n));
        return nullptr;
    }
    std::uint8_t* base = buffer_.data();
    if (at < size_) __builtin_memmove(base + at + n, base + at, size_ - at);
    size_ += n;
    return base + at;
}

void Writer::byte(std::uint8_t b) {
    if (std::uint8_t* p = insert(size_, 1)) *p = b;
}

void Writer::bytes(std::span<const std::uint8_t> b) {
    std::uint8_t* p = insert(size_, b.size());
    if (p != nullptr && !b.empty()) __builtin_memcpy(p, b.data(), b.size());
}

void Writer::word(std::uint16_t v) {
    byte(static_cast<std::uint8_t>(v));
    byte(static_cast<std::uint8_t>(v >> 8));
}

void Writer::dword(std::uint32_t v) {
    word(static_cast<std::uint16_t>(v));
    word(static_cast<std::uint16_t>(v >> 16));
}

void Writer::integer(std::uint64_t value) {
    if (value == 0) {
        byte(kZeroOp);
    } else if (value == 1) {
        byte(kOneOp);
    } else if (value == ~std::uint64_t{0}) {
        byte(kOnesOp);  // Ones: all 64 bits in a revision-2 definition block
    } else if (value <= 0xff) {
        byte(kBytePrefix);
        byte(static_cast<std::uint8_t>(value));
    } else if (value <= 0xffff) {
        byte(kWordPrefix);
        word(static_cast<std::uint16_t>(value));
    } else if (value <= 0xffff'ffff) {
        byte(kDWordPrefix);
        dword(static_cast<std::uint32_t>(value));
    } else {
        byte(kQWordPrefix);
        dword(static_cast<std::uint32_t>(value));
        dword(static_cast<std::uint32_t>(value >> 32));
    }
}

void Writer::string(std::string_view text) {
    for (char c : text) {
        auto u = static_cast<std::uint8_t>(c);
        if (u == 0 || u > 0x7f) return fail(Error::of("acpi: AML strings hold ASCII 0x01-0x7f only", u));
    }
    byte(kStringPrefix);
    for (char c : text) byte(static_cast<std::uint8_t>(c));
    byte(0);
}

void Writer::eisa_id(std::string_view id) {
    // ASL EisaId(): three 5-bit letters ('A' is 1) then four 4-bit hex digits, most significant bit
    // first, stored as the big-endian bytes of that 32-bit value.
    bool valid = id.size() == 7;
    for (std::size_t i = 0; valid && i < 3; ++i) valid = id[i] >= 'A' && id[i] <= 'Z';
    for (std::size_t i = 3; valid && i < 7; ++i) valid = hex_value(id[i]) >= 0;
    if (!valid) return fail(Error::of("acpi: an EISA id is three capitals and four hex digits"));
    auto letter = [&](std::size_t i) { return static_cast<unsigned>(id[i] - '@'); };
    auto digit = [&](std::size_t i) { return static_cast<unsigned>(hex_value(id[i])); };
    byte(kDWordPrefix);
    byte(static_cast<std::uint8_t>((letter(0) << 2) | (letter(1) >> 3)));
    byte(static_cast<std::uint8_t>(((letter(1) & 7) << 5) | letter(2)));
    byte(static_cast<std::uint8_t>((digit(3) << 4) | digit(4)));
    byte(static_cast<std::uint8_t>((digit(5) << 4) | digit(6)));
}

void Writer::name_segment(std::string_view seg) {
    char padded[4] = {'_', '_', '_', '_'};
    for (std::size_t i = 0; i < seg.size(); ++i) padded[i] = seg[i];
    for (char c : padded) byte(static_cast<std::uint8_t>(c));
}

void Writer::name_string(std::string_view path) {
    std::size_t pos = 0;
    if (!path.empty() && path[0] == kRootChar) {
        pos = 1;
    } else {
        while (pos < path.size() && path[pos] == kParentPrefixChar) ++pos;
    }
    std::string_view prefix = path.substr(0, pos);
    std::string_view rest = path.substr(pos);

    // Check every segment before writing anything.
    std::size_t segments = 0;
    for (std::size_t start = 0; start <= rest.size() && !rest.empty();) {
        std::size_t dot = rest.find('.', start);
        std::string_view seg = rest.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        bool valid = !seg.empty() && seg.size() <= 4 && lead_name_char(seg[0]);
        for (std::size_t i = 1; valid && i < seg.size(); ++i) valid = name_char(seg[i]);
        if (!valid) return fail(Error::of("acpi: a NameSeg is 1-4 of A-Z 0-9 _, not starting with a digit", start));
        ++segments;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (segments > 255) return fail(Error::of("acpi: a NameString has at most 255 segments", segments));
    if (segments == 0 && prefix.empty()) return fail(Error::of("acpi: an empty name"));

    for (char c : prefix) byte(static_cast<std::uint8_t>(c));
    if (segments == 0) {
        byte(kNullName);
    } else if (segments == 2) {
        byte(kDualNamePrefix);
    } else if (segments > 2) {
        byte(kMultiNamePrefix);
        byte(static_cast<std::uint8_t>(segments));
    }
    for (std::size_t start = 0; segments != 0;) {
        std::size_t dot = rest.find('.', start);
        name_segment(rest.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
}

void Writer::name(std::string_view path) {
    byte(kNameOp);
    name_string(path);
}

Writer::Mark Writer::open_scope(std::string_view path) {
    byte(kScopeOp);
    Mark mark = here();
    name_string(path);
    return mark;
}

Writer::Mark Writer::open_device(std::string_view path) {
    byte(kExtOpPrefix);
    byte(kDeviceOp);
    Mark mark = here();
    name_string(path);
    return mark;
}

Writer::Mark Writer::open_package(std::uint8_t count) {
    byte(kPackageOp);
    Mark mark = here();
    byte(count);  // NumElements
    return mark;
}

Writer::Mark Writer::open_buffer() {
    byte(kBufferOp);
    return here();
}

void Writer::pkg_length_at(std::size_t at) {
    if (!ok_) return;
    std::size_t content = size_ - at;
    unsigned n = pkg_length_size_for_content(content);
    if (n == 0) return fail(Error::of("acpi: an AML object exceeds the largest PkgLength", content));
    std::uint8_t encoded[4];
    encode_pkg_length(static_cast<std::uint32_t>(content + n), encoded);
    if (std::uint8_t* p = insert(at, n)) __builtin_memcpy(p, encoded, n);
}

void Writer::close(Mark mark) { pkg_length_at(mark.at); }

void Writer::close_buffer(Mark mark) {
    // DefBuffer := BufferOp PkgLength BufferSize ByteList; BufferSize is a TermArg, written the
    // way iasl writes it: the smallest integer encoding of the byte count.
    if (!ok_) return;
    std::size_t count = size_ - mark.at;
    std::size_t end = size_;
    integer(count);
    if (!ok_) return;
    std::size_t n = size_ - end;
    if (!measuring_) {
        // Rotate the size from the end to the front of the contents.
        std::uint8_t encoded[9];
        std::uint8_t* base = buffer_.data();
        __builtin_memcpy(encoded, base + end, n);
        __builtin_memmove(base + mark.at + n, base + mark.at, count);
        __builtin_memcpy(base + mark.at, encoded, n);
    }
    pkg_length_at(mark.at);
}

std::span<const std::uint8_t> Writer::since(Mark mark) const {
    if (measuring_ || !ok_ || mark.at > size_) return {};
    return buffer_.subspan(mark.at, size_ - mark.at);
}

}  // namespace tandem::guest_boot::acpi::aml
