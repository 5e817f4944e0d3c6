// A small AML encoder: the bytecode of an ACPI definition block's body (ACPI 6.5 §20.2, "AML
// Grammar Definition"), enough for the DSDT tandem gives its guest: names, integers, strings,
// EISA ids, buffers, packages, scopes and devices. Resource templates are in aml_resources.hpp.
//
// Variable-length objects (Scope, Device, Buffer, Package) start with a PkgLength whose size
// depends on what follows (§20.2.4). The writer therefore writes an object's contents first and
// inserts the PkgLength (and a Buffer's size) in front when the object is closed: open_*() returns
// a Mark, close() takes it. Objects nest; close them innermost first.
//
// No heap: the writer writes into a caller-given span and records the first error (overflow, a
// malformed name, a string ACPI cannot hold) instead of writing past it. A writer made by
// measure() writes nothing and only counts, so a caller can size a table before touching memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "hypervisor/util/result.hpp"

namespace tandem::guest_boot::acpi::aml {

// §20.2.3 data objects, §20.2.5 opcodes, §20.2.2 name characters.
inline constexpr std::uint8_t kZeroOp = 0x00;
inline constexpr std::uint8_t kOneOp = 0x01;
inline constexpr std::uint8_t kNameOp = 0x08;
inline constexpr std::uint8_t kBytePrefix = 0x0a;
inline constexpr std::uint8_t kWordPrefix = 0x0b;
inline constexpr std::uint8_t kDWordPrefix = 0x0c;
inline constexpr std::uint8_t kStringPrefix = 0x0d;
inline constexpr std::uint8_t kQWordPrefix = 0x0e;
inline constexpr std::uint8_t kScopeOp = 0x10;
inline constexpr std::uint8_t kBufferOp = 0x11;
inline constexpr std::uint8_t kPackageOp = 0x12;
inline constexpr std::uint8_t kExtOpPrefix = 0x5b;
inline constexpr std::uint8_t kDeviceOp = 0x82;  // after kExtOpPrefix
inline constexpr std::uint8_t kOnesOp = 0xff;
inline constexpr std::uint8_t kNullName = 0x00;
inline constexpr std::uint8_t kDualNamePrefix = 0x2e;
inline constexpr std::uint8_t kMultiNamePrefix = 0x2f;
inline constexpr char kRootChar = '\\';
inline constexpr char kParentPrefixChar = '^';

// §20.2.4: a PkgLength counts its own bytes too. One byte holds up to 63; otherwise the lead
// byte's bits 7:6 give the number of bytes that follow (1-3), its bits 3:0 the low nibble, and
// each following byte 8 more bits: up to 2^12 - 1, 2^20 - 1, 2^28 - 1.
inline constexpr std::uint32_t kMaxPkgLength = 0x0fff'ffff;

// Writes the PkgLength encoding of `length` into out; returns its size (1-4), 0 above kMaxPkgLength.
unsigned encode_pkg_length(std::uint32_t length, std::uint8_t (&out)[4]);

// The size of the PkgLength in front of `content` bytes (itself included in the value it encodes),
// 0 when no PkgLength can cover them.
unsigned pkg_length_size_for_content(std::size_t content);

class Writer {
public:
    struct Mark {
        std::size_t at = 0;  // where the object's contents begin (after its opcode)
    };

    explicit Writer(std::span<std::uint8_t> buffer) : buffer_(buffer) {}
    static Writer measure() { return Writer{}; }

    // Raw bytes: resource descriptors and opcodes.
    void byte(std::uint8_t b);
    void bytes(std::span<const std::uint8_t> b);
    void word(std::uint16_t v);
    void dword(std::uint32_t v);

    // ComputationalData (§20.2.3): ZeroOp, OneOp, OnesOp or the smallest of ByteConst, WordConst,
    // DWordConst, QWordConst that holds `value`.
    void integer(std::uint64_t value);
    // StringPrefix, ASCII characters 0x01-0x7F, NUL.
    void string(std::string_view text);
    // A compressed EISA id such as "PNP0501" (three letters, four hex digits) as a DWordConst,
    // what ASL's EisaId() compiles to.
    void eisa_id(std::string_view id);
    // A NameString (§20.2.2): an optional "\" or run of "^", then NameSegs separated by "."; a
    // segment shorter than 4 characters is padded with "_" ("_SB" is "_SB_").
    void name_string(std::string_view path);

    // Name(path, <object>): writes NameOp and the name; the caller writes one data object next.
    void name(std::string_view path);

    // Scope(path) { ... } and Device(path) { ... }.
    Mark open_scope(std::string_view path);
    Mark open_device(std::string_view path);
    // Package(count) { ... }: the caller writes `count` data objects, then close()s.
    Mark open_package(std::uint8_t count);
    // Buffer() { bytes }: closed with close_buffer(), which puts the byte count in front.
    Mark open_buffer();
    void close(Mark mark);
    void close_buffer(Mark mark);

    // The bytes written since `mark` (empty when measuring or failed).
    std::span<const std::uint8_t> since(Mark mark) const;
    Mark here() const { return Mark{size_}; }

    bool ok() const { return ok_; }
    const Error& error() const { return error_; }
    std::size_t size() const { return size_; }
    std::span<const std::uint8_t> written() const { return measuring_ ? std::span<const std::uint8_t>{} : buffer_.first(size_); }

    void fail(Error e);

private:
    Writer() : measuring_(true) {}
    // Inserts `n` bytes at `at`, moving what follows; returns where they go (nullptr if measuring).
    std::uint8_t* insert(std::size_t at, std::size_t n);
    void name_segment(std::string_view seg);
    void pkg_length_at(std::size_t at);

    std::span<std::uint8_t> buffer_{};
    std::size_t size_ = 0;
    bool measuring_ = false;
    bool ok_ = true;
    Error error_{};
};

}  // namespace tandem::guest_boot::acpi::aml
