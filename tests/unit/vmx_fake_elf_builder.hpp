// Builds small ELF32 (i386) and ELF64 (x86-64) executables in memory for the ELF loader's tests
// and the fuzzer's seeds (System V gABI; x86-64 psABI): the ELF header, the program headers right
// after it, then each segment's bytes at a 16-byte aligned offset. Field offsets are exposed so a
// test can corrupt exactly one field. No doctest here: tests/fuzz uses it too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace test {

struct ElfSegment {
    std::uint64_t vaddr = 0;
    std::uint64_t paddr = 0;
    std::vector<std::uint8_t> data;  // the file part (p_filesz bytes)
    std::uint64_t memsz = 0;         // 0: the same as data.size()
    std::uint32_t flags = 5;         // PF_R | PF_X
    std::uint32_t type = 1;          // PT_LOAD
};

enum class ElfField { type, offset, vaddr, paddr, filesz, memsz, flags };

class ElfBuilder {
public:
    explicit ElfBuilder(bool elf64) : elf64_(elf64) {}

    ElfBuilder& entry(std::uint64_t e) {
        entry_ = e;
        return *this;
    }
    ElfBuilder& segment(ElfSegment s) {
        segments_.push_back(std::move(s));
        return *this;
    }

    std::size_t header_size() const { return elf64_ ? 64 : 52; }
    std::size_t phentsize() const { return elf64_ ? 56 : 32; }
    std::size_t phoff() const { return header_size(); }
    // Offset of segment i's data in the built file.
    std::size_t data_offset(std::size_t i) const {
        std::size_t at = align16(phoff() + segments_.size() * phentsize());
        for (std::size_t k = 0; k < i; ++k) at = align16(at + segments_[k].data.size());
        return at;
    }

    std::vector<std::uint8_t> build() const {
        std::vector<std::uint8_t> f(data_offset(segments_.size()), 0);
        const std::uint8_t ident[8] = {0x7f, 'E', 'L', 'F', static_cast<std::uint8_t>(elf64_ ? 2 : 1), 1, 1, 0};
        for (std::size_t i = 0; i < 8; ++i) f[i] = ident[i];
        put(f, 16, 2, 2);                        // e_type ET_EXEC
        put(f, 18, 2, elf64_ ? 62 : 3);          // e_machine EM_X86_64 / EM_386
        put(f, 20, 4, 1);                        // e_version
        put(f, 24, elf64_ ? 8 : 4, entry_);      // e_entry
        put(f, elf64_ ? 32 : 28, elf64_ ? 8 : 4, phoff());
        put(f, elf64_ ? 52 : 40, 2, header_size());  // e_ehsize
        put(f, elf64_ ? 54 : 42, 2, phentsize());
        put(f, elf64_ ? 56 : 44, 2, segments_.size());
        for (std::size_t i = 0; i < segments_.size(); ++i) {
            const ElfSegment& s = segments_[i];
            for (ElfField field : {ElfField::type, ElfField::offset, ElfField::vaddr, ElfField::paddr, ElfField::filesz,
                                   ElfField::memsz, ElfField::flags}) {
                put_field(f, i, field, value_of(s, field, data_offset(i)));
            }
            for (std::size_t k = 0; k < s.data.size(); ++k) f[data_offset(i) + k] = s.data[k];
        }
        return f;
    }

    // Overwrites one program-header field of segment i in a built file.
    void put_field(std::vector<std::uint8_t>& f, std::size_t i, ElfField field, std::uint64_t value) const {
        std::size_t at = phoff() + i * phentsize();
        if (elf64_) {
            switch (field) {
                case ElfField::type: return put(f, at + 0, 4, value);
                case ElfField::flags: return put(f, at + 4, 4, value);
                case ElfField::offset: return put(f, at + 8, 8, value);
                case ElfField::vaddr: return put(f, at + 16, 8, value);
                case ElfField::paddr: return put(f, at + 24, 8, value);
                case ElfField::filesz: return put(f, at + 32, 8, value);
                case ElfField::memsz: return put(f, at + 40, 8, value);
            }
        } else {
            switch (field) {
                case ElfField::type: return put(f, at + 0, 4, value);
                case ElfField::offset: return put(f, at + 4, 4, value);
                case ElfField::vaddr: return put(f, at + 8, 4, value);
                case ElfField::paddr: return put(f, at + 12, 4, value);
                case ElfField::filesz: return put(f, at + 16, 4, value);
                case ElfField::memsz: return put(f, at + 20, 4, value);
                case ElfField::flags: return put(f, at + 24, 4, value);
            }
        }
    }

    // Little-endian store of `size` bytes at `at`.
    static void put(std::vector<std::uint8_t>& f, std::size_t at, std::size_t size, std::uint64_t value) {
        for (std::size_t k = 0; k < size; ++k) f.at(at + k) = static_cast<std::uint8_t>(value >> (8 * k));
    }

private:
    static std::size_t align16(std::size_t v) { return (v + 15) & ~std::size_t{15}; }

    static std::uint64_t value_of(const ElfSegment& s, ElfField field, std::size_t offset) {
        switch (field) {
            case ElfField::type: return s.type;
            case ElfField::offset: return offset;
            case ElfField::vaddr: return s.vaddr;
            case ElfField::paddr: return s.paddr;
            case ElfField::filesz: return s.data.size();
            case ElfField::memsz: return s.memsz != 0 ? s.memsz : s.data.size();
            case ElfField::flags: return s.flags;
        }
        return 0;
    }

    bool elf64_;
    std::uint64_t entry_ = 0;
    std::vector<ElfSegment> segments_;
};

}  // namespace test
