// The image's build id: the SHA-1 the linker computes over the image (--build-id=sha1) and
// stores in the .note.gnu.build-id note, which the linker script keeps in read-only data.
#pragma once

#include <cstdint>
#include <span>

namespace tandem::x86 {

std::span<const std::uint8_t> build_id();

}  // namespace tandem::x86
