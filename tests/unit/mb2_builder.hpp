// Builds synthetic multiboot 2 information blocks (Multiboot2 Specification §3.6) for tests.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "helpers.hpp"

namespace test {

struct Mb2Entry {
    std::uint64_t base;
    std::uint64_t length;
    std::uint32_t type;
};

class Mb2Builder {
public:
    Mb2Builder() { b_.u32(0).u32(0); }  // total_size (patched by build()), reserved

    // Offset at which the next tag starts.
    std::size_t offset() const { return b_.size(); }

    // A tag with an explicit size field, followed by `payload` and padding to 8 bytes.
    Mb2Builder& raw_tag(std::uint32_t type, std::uint32_t size, const std::vector<std::uint8_t>& payload) {
        b_.u32(type).u32(size);
        b_.bytes().insert(b_.bytes().end(), payload.begin(), payload.end());
        b_.pad_to(8);
        return *this;
    }
    Mb2Builder& tag(std::uint32_t type, const std::vector<std::uint8_t>& payload) {
        return raw_tag(type, static_cast<std::uint32_t>(8 + payload.size()), payload);
    }
    Mb2Builder& string_tag(std::uint32_t type, std::string_view s, bool terminate = true) {
        ByteBuilder p;
        p.str(s, terminate);
        return tag(type, p.bytes());
    }
    Mb2Builder& cmdline(std::string_view s) { return string_tag(1, s); }
    Mb2Builder& loader_name(std::string_view s) { return string_tag(2, s); }
    Mb2Builder& module(std::uint32_t start, std::uint32_t end, std::string_view name, bool terminate = true) {
        ByteBuilder p;
        p.u32(start).u32(end).str(name, terminate);
        return tag(3, p.bytes());
    }
    Mb2Builder& mmap(const std::vector<Mb2Entry>& entries, std::uint32_t entry_size = 24, std::size_t extra = 0) {
        ByteBuilder p;
        p.u32(entry_size).u32(0);
        for (const Mb2Entry& e : entries) {
            p.u64(e.base).u64(e.length).u32(e.type).u32(0);
            if (entry_size > 24) p.zeros(entry_size - 24);
        }
        p.zeros(extra);
        return tag(6, p.bytes());
    }
    Mb2Builder& rsdp(std::uint32_t type, std::uint8_t fill, std::size_t length) {
        ByteBuilder p;
        p.str("RSD PTR ", false).zeros(length - 8);
        p.bytes()[8] = fill;
        return tag(type, p.bytes());
    }
    Mb2Builder& end() { return raw_tag(0, 8, {}); }

    std::vector<std::uint8_t> build() {
        std::vector<std::uint8_t> out = b_.bytes();
        put_u32(out, 0, static_cast<std::uint32_t>(out.size()));
        return out;
    }

private:
    ByteBuilder b_;
};

}  // namespace test
