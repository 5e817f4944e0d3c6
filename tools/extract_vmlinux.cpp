// extract_vmlinux: the uncompressed kernel (vmlinux, ELF64) out of a bzImage, so tandem can boot
// it through the 64-bit entry without the kernel decompressing itself (DESIGN.md §9: Debian's xz
// decompression is ~41 s of emulated time in Bochs).
//
//   extract_vmlinux BZIMAGE OUTPUT
//
// The bzImage is checked with tandem's own parser (guest-boot/linux_boot.hpp); the payload is where
// the setup header's payload_offset/payload_length say (boot protocol 2.08+, relative to the
// protected-mode code); its compression is recognised by magic number (boot.rst, payload_offset:
// gzip 1F 8B / 1F 9E, bzip2 42 5A, LZMA 5D 00, XZ FD 37, LZ4 02 21, ZSTD 28 B5; an uncompressed
// payload is ELF already). gzip, xz, LZMA and zstd are decompressed; the kernel build appends the
// uncompressed size as 4 little-endian bytes to xz, LZMA and zstd payloads
// (arch/x86/boot/compressed/Makefile, size_append), which is checked against the result. The result
// must be an ELF64 x86-64 executable. A relocatable kernel's payload carries its relocation table
// after the ELF file (vmlinux.relocs, for the decompressor's KASLR): that tail is dropped, so OUTPUT
// is exactly the ELF file. It is written to OUTPUT.tmp and renamed: complete or absent.
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <initializer_list>
#include <iterator>
#include <span>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "guest-boot/linux_boot.hpp"

namespace fs = std::filesystem;
namespace lb = tandem::guest_boot::linux_boot;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr std::uint64_t kMaxKernel = 1ull << 30;  // a decompressed kernel larger than 1 GiB is not one

struct Failure {
    std::string message;
};

std::string hex(std::uint64_t v) {
    std::ostringstream s;
    s << "0x" << std::hex << v;
    return s.str();
}

Bytes read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Failure{"cannot open " + path.string()};
    Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw Failure{"cannot read " + path.string()};
    return data;
}

enum class Compression { none, gzip, xz, lzma, zstd, bzip2, lz4, lzo, unknown };

const char* name(Compression c) {
    switch (c) {
        case Compression::none: return "uncompressed";
        case Compression::gzip: return "gzip";
        case Compression::xz: return "xz";
        case Compression::lzma: return "lzma";
        case Compression::zstd: return "zstd";
        case Compression::bzip2: return "bzip2";
        case Compression::lz4: return "lz4";
        case Compression::lzo: return "lzo";
        case Compression::unknown: return "unknown";
    }
    return "?";
}

bool starts_with(std::span<const std::uint8_t> p, std::initializer_list<std::uint8_t> magic) {
    if (p.size() < magic.size()) return false;
    std::size_t i = 0;
    for (std::uint8_t m : magic) {
        if (p[i++] != m) return false;
    }
    return true;
}

Compression detect(std::span<const std::uint8_t> p) {
    if (starts_with(p, {0x7f, 'E', 'L', 'F'})) return Compression::none;
    if (starts_with(p, {0x1f, 0x8b}) || starts_with(p, {0x1f, 0x9e})) return Compression::gzip;
    if (starts_with(p, {0xfd, '7', 'z', 'X', 'Z', 0x00})) return Compression::xz;
    if (starts_with(p, {0x28, 0xb5, 0x2f, 0xfd})) return Compression::zstd;
    if (starts_with(p, {0x5d, 0x00, 0x00})) return Compression::lzma;
    if (starts_with(p, {'B', 'Z', 'h'})) return Compression::bzip2;
    if (starts_with(p, {0x02, 0x21, 0x4c, 0x18})) return Compression::lz4;
    if (starts_with(p, {0x89, 'L', 'Z', 'O'})) return Compression::lzo;
    return Compression::unknown;
}

// The size the kernel build appended (size_append), or 0 when it is implausible.
std::uint64_t appended_size(std::span<const std::uint8_t> p) {
    if (p.size() < 4) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v |= std::uint64_t{p[p.size() - 4 + i]} << (8 * i);
    return v;
}

void grow(Bytes& out, std::size_t& used, std::size_t hint) {
    if (used < out.size()) return;
    if (out.size() >= kMaxKernel) throw Failure{"the payload decompresses to more than 1 GiB: not a kernel"};
    out.resize(std::min<std::size_t>(kMaxKernel, std::max<std::size_t>(out.size() * 2, hint)));
}

std::string lzma_reason(lzma_ret r) {
    switch (r) {
        case LZMA_MEM_ERROR: return "out of memory";
        case LZMA_MEMLIMIT_ERROR: return "memory limit reached";
        case LZMA_FORMAT_ERROR: return "not in the expected format";
        case LZMA_OPTIONS_ERROR: return "unsupported options";
        case LZMA_DATA_ERROR: return "corrupt data";
        case LZMA_BUF_ERROR: return "truncated data";
        case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
        default: return "liblzma error " + std::to_string(static_cast<int>(r));
    }
}

// xz and legacy LZMA through liblzma. Decoding stops at the end of the first stream: what follows
// (the appended size) is not xz data, so LZMA_CONCATENATED is deliberately not used.
Bytes decompress_lzma(std::span<const std::uint8_t> in, bool xz, std::size_t hint) {
    lzma_stream s = LZMA_STREAM_INIT;
    lzma_ret r = xz ? lzma_stream_decoder(&s, UINT64_MAX, 0) : lzma_alone_decoder(&s, UINT64_MAX);
    if (r != LZMA_OK) throw Failure{std::string(xz ? "xz" : "lzma") + ": cannot start the decoder: " + lzma_reason(r)};
    Bytes out;
    std::size_t used = 0;
    s.next_in = in.data();
    s.avail_in = in.size();
    for (;;) {
        grow(out, used, hint);
        s.next_out = out.data() + used;
        s.avail_out = out.size() - used;
        r = lzma_code(&s, LZMA_FINISH);
        used = out.size() - s.avail_out;
        if (r == LZMA_STREAM_END) break;
        if (r != LZMA_OK) {
            lzma_end(&s);
            throw Failure{std::string(xz ? "xz" : "lzma") + ": " + lzma_reason(r) + " after " +
                          std::to_string(in.size() - s.avail_in) + " compressed bytes"};
        }
    }
    lzma_end(&s);
    out.resize(used);
    return out;
}

Bytes decompress_gzip(std::span<const std::uint8_t> in, std::size_t hint) {
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw Failure{"gzip: cannot start zlib"};
    Bytes out;
    std::size_t used = 0;
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size(), UINT32_MAX));
    for (;;) {
        grow(out, used, hint);
        std::size_t room = std::min<std::size_t>(out.size() - used, UINT32_MAX);
        z.next_out = out.data() + used;
        z.avail_out = static_cast<uInt>(room);
        int r = inflate(&z, Z_NO_FLUSH);
        used += room - z.avail_out;
        if (r == Z_STREAM_END) break;
        if (r == Z_BUF_ERROR && z.avail_in == 0) {
            inflateEnd(&z);
            throw Failure{"gzip: truncated data"};
        }
        if (r != Z_OK && r != Z_BUF_ERROR) {
            std::string why = z.msg != nullptr ? z.msg : "zlib error " + std::to_string(r);
            inflateEnd(&z);
            throw Failure{"gzip: " + why};
        }
    }
    inflateEnd(&z);
    out.resize(used);
    return out;
}

// One zstd frame; the appended size after it is not a frame and is left alone.
Bytes decompress_zstd(std::span<const std::uint8_t> in, std::size_t hint) {
    ZSTD_DStream* d = ZSTD_createDStream();
    if (d == nullptr) throw Failure{"zstd: cannot create a decoder"};
    // The kernel is compressed with --ultra -22: a window of up to 128 MiB (2^27).
    ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 31);
    Bytes out;
    std::size_t used = 0;
    ZSTD_inBuffer src{in.data(), in.size(), 0};
    for (;;) {
        grow(out, used, hint);
        ZSTD_outBuffer dst{out.data() + used, out.size() - used, 0};
        std::size_t r = ZSTD_decompressStream(d, &dst, &src);
        used += dst.pos;
        if (ZSTD_isError(r)) {
            std::string why = ZSTD_getErrorName(r);
            ZSTD_freeDStream(d);
            throw Failure{"zstd: " + why};
        }
        if (r == 0) break;  // the frame is complete
        if (src.pos == src.size && dst.pos < dst.size) {
            ZSTD_freeDStream(d);
            throw Failure{"zstd: truncated data"};
        }
    }
    ZSTD_freeDStream(d);
    out.resize(used);
    return out;
}

// ELF64, little-endian, executable, x86-64 (System V gABI; x86-64 psABI).
void check_elf64(const Bytes& v) {
    if (v.size() < 64 || !starts_with(v, {0x7f, 'E', 'L', 'F'})) {
        throw Failure{"the decompressed payload is not an ELF file"};
    }
    auto u16 = [&](std::size_t at) { return static_cast<unsigned>(v[at] | v[at + 1] << 8); };
    if (v[4] != 2) throw Failure{"the decompressed payload is not ELF64 (class " + std::to_string(v[4]) + ")"};
    if (v[5] != 1) throw Failure{"the decompressed payload is not little-endian ELF"};
    if (u16(16) != 2) throw Failure{"the decompressed payload is not an executable (e_type " + std::to_string(u16(16)) + ")"};
    if (u16(18) != 62) throw Failure{"the decompressed payload is not for x86-64 (e_machine " + std::to_string(u16(18)) + ")"};
}

std::uint64_t le(const Bytes& v, std::size_t at, std::size_t size) {
    std::uint64_t x = 0;
    for (std::size_t i = 0; i < size; ++i) x |= std::uint64_t{v[at + i]} << (8 * i);
    return x;
}

std::uint64_t elf_entry(const Bytes& v) { return le(v, 24, 8); }

// Where the ELF file ends: past its header tables and every segment's file bytes.
std::uint64_t elf_extent(const Bytes& v) {
    const std::uint64_t phoff = le(v, 32, 8), shoff = le(v, 40, 8);
    const std::uint64_t phentsize = le(v, 54, 2), phnum = le(v, 56, 2), shentsize = le(v, 58, 2), shnum = le(v, 60, 2);
    if (phoff > v.size() || phnum * phentsize > v.size() - phoff || phentsize < 56) {
        throw Failure{"the decompressed kernel's program header table runs past its end"};
    }
    std::uint64_t end = std::max<std::uint64_t>(64, phoff + phnum * phentsize);
    if (shoff != 0) end = std::max(end, shoff + shnum * shentsize);
    for (std::uint64_t i = 0; i < phnum; ++i) {
        std::size_t at = static_cast<std::size_t>(phoff + i * phentsize);
        end = std::max(end, le(v, at + 8, 8) + le(v, at + 32, 8));  // p_offset + p_filesz
    }
    if (end > v.size()) throw Failure{"the decompressed kernel's ELF file runs past its end (" + hex(end) + ")"};
    return end;
}

void write_atomically(const fs::path& path, const Bytes& data) {
    fs::path tmp = path;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw Failure{"cannot create " + tmp.string()};
        out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
        out.flush();
        if (!out) {
            out.close();
            fs::remove(tmp);
            throw Failure{"cannot write " + tmp.string() + " (disk full?)"};
        }
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) {
        fs::remove(tmp);
        throw Failure{"cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message()};
    }
}

Bytes decompress(Compression c, std::span<const std::uint8_t> payload, std::size_t hint) {
    Bytes vmlinux;
    switch (c) {
        case Compression::none: vmlinux.assign(payload.begin(), payload.end()); break;
        case Compression::gzip: vmlinux = decompress_gzip(payload, hint); break;
        case Compression::xz: vmlinux = decompress_lzma(payload, true, hint); break;
        case Compression::lzma: vmlinux = decompress_lzma(payload, false, hint); break;
        case Compression::zstd: vmlinux = decompress_zstd(payload, hint); break;
        case Compression::bzip2:
        case Compression::lz4:
        case Compression::lzo:
            throw Failure{std::string("the payload is ") + name(c) +
                          "-compressed, which extract_vmlinux does not decompress (gzip, xz, lzma and zstd only)"};
        case Compression::unknown: {
            std::ostringstream magic;
            for (std::size_t i = 0; i < 6 && i < payload.size(); ++i) magic << (i == 0 ? "" : " ") << hex(payload[i]);
            throw Failure{"unknown payload compression (first bytes " + magic.str() + ")"};
        }
    }
    return vmlinux;
}

int run(const fs::path& input, const fs::path& output) {
    Bytes file = read_file(input);
    auto image = lb::parse_bzimage(file);
    if (!image) {
        const tandem::Error& e = image.error();
        throw Failure{input.string() + ": " + e.message + (e.has_value ? " (" + hex(e.value) + ")" : "")};
    }
    const lb::SetupHeader& h = image->header;
    if (h.version < 0x0208 || image->payload.empty()) {
        throw Failure{input.string() + ": the setup header gives no payload (payload_offset/payload_length, protocol 2.08+)"};
    }
    std::span<const std::uint8_t> payload = image->payload;
    Compression c = detect(payload);
    std::uint64_t expected = 0;
    if (c == Compression::xz || c == Compression::lzma || c == Compression::zstd) {
        expected = appended_size(payload);
        if (expected > kMaxKernel) expected = 0;
    }
    const std::size_t hint = expected != 0 ? expected : payload.size() * 4;
    Bytes vmlinux;
    try {
        vmlinux = decompress(c, payload, hint);
    } catch (const Failure& f) {
        throw Failure{input.string() + ": " + f.message};
    }
    if (expected != 0 && vmlinux.size() != expected) {
        throw Failure{input.string() + ": " + name(c) + " payload decompressed to " + std::to_string(vmlinux.size()) +
                      " bytes, but the kernel build recorded " + std::to_string(expected)};
    }
    const std::uint64_t decompressed = vmlinux.size();
    try {
        check_elf64(vmlinux);
        vmlinux.resize(static_cast<std::size_t>(elf_extent(vmlinux)));
    } catch (const Failure& f) {
        throw Failure{input.string() + ": " + f.message};
    }
    write_atomically(output, vmlinux);
    std::cout << "extract_vmlinux: " << input.string() << ": Linux "
              << (image->version.empty() ? std::string("(no version string)") : std::string(image->version))
              << ", boot protocol " << (h.version >> 8) << "." << (h.version & 0xff) << ", " << name(c) << " payload of "
              << payload.size() << " bytes -> " << output.string() << ": " << vmlinux.size()
              << " bytes, ELF64 x86-64, e_entry " << hex(elf_entry(vmlinux));
    if (decompressed > vmlinux.size()) std::cout << " (" << decompressed - vmlinux.size() << " bytes of relocations after it dropped)";
    std::cout << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: extract_vmlinux BZIMAGE OUTPUT\n"
                     "  writes the uncompressed kernel (ELF64 vmlinux) inside a Linux bzImage to OUTPUT\n";
        return 2;
    }
    try {
        return run(argv[1], argv[2]);
    } catch (const Failure& f) {
        std::cerr << "extract_vmlinux: " << f.message << "\n";
    } catch (const std::exception& e) {
        std::cerr << "extract_vmlinux: " << e.what() << "\n";
    }
    return 1;
}
