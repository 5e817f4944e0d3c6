#include "arch-x86_64/boot/build_id.hpp"

#include "hypervisor/util/bytes.hpp"

extern "C" const std::uint8_t __build_id_note[], __build_id_note_end[];

namespace tandem::x86 {

std::span<const std::uint8_t> build_id() {
    // ELF note: u32 namesz, u32 descsz, u32 type, name padded to 4, descriptor.
    std::span<const std::uint8_t> note{__build_id_note, static_cast<std::size_t>(__build_id_note_end - __build_id_note)};
    if (note.size() < 12) return {};
    std::uint32_t namesz = load_le<std::uint32_t>(note, 0);
    std::uint32_t descsz = load_le<std::uint32_t>(note, 4);
    std::size_t desc = 12 + ((static_cast<std::size_t>(namesz) + 3) & ~std::size_t{3});
    if (!fits(note.size(), desc, descsz)) return {};
    return note.subspan(desc, descsz);
}

}  // namespace tandem::x86
