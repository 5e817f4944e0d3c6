// A 256-bit register bank of the local APIC (IRR, ISR, TMR: Intel SDM Vol. 3A §11.8.4), one bit
// per vector, read by the guest as eight 32-bit registers.
#pragma once

#include <bit>
#include <cstdint>

namespace tandem {

class ApicVectorSet {
public:
    static constexpr unsigned kWords = 8;

    bool test(std::uint8_t v) const { return (words_[v >> 5] >> (v & 31)) & 1; }
    void set(std::uint8_t v) { words_[v >> 5] |= 1u << (v & 31); }
    void clear(std::uint8_t v) { words_[v >> 5] &= ~(1u << (v & 31)); }
    void clear_all() {
        for (auto& w : words_) w = 0;
    }
    // The highest vector set, or -1.
    int highest() const {
        for (unsigned i = kWords; i-- > 0;) {
            if (words_[i] != 0) {
                return static_cast<int>(i * 32 + 31 - static_cast<unsigned>(std::countl_zero(words_[i])));
            }
        }
        return -1;
    }
    std::uint32_t word(unsigned i) const { return words_[i]; }
    void set_word(unsigned i, std::uint32_t value) { words_[i] = value; }

private:
    std::uint32_t words_[kWords]{};
};

}  // namespace tandem
