// FNV-1a, 64-bit: a fast non-cryptographic hash for self-checks (the image hash printed around
// a guest's run, which tests compare with the same hash over the ELF file's bytes).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem {

constexpr std::uint64_t kFnv64Offset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnv64Prime = 0x100000001b3ull;

constexpr std::uint64_t fnv1a64(const std::uint8_t* data, std::size_t size, std::uint64_t hash = kFnv64Offset) {
    for (std::size_t i = 0; i < size; ++i) {
        hash ^= data[i];
        hash *= kFnv64Prime;
    }
    return hash;
}

}  // namespace tandem
