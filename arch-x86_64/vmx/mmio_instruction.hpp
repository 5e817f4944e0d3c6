// Decoding the instruction that touched device memory (an EPT violation outside guest RAM), so
// tandem can carry the access out on a device model and step the guest past it. Only the moves
// compilers emit for volatile MMIO loads and stores are accepted (Intel SDM Vol. 2B, MOV and
// MOVZX): 88/89/8A/8B /r, C6/C7 /0 with an immediate, 0F B6/B7 /r; with the operand-size,
// address-size, segment and REX prefixes. Anything else is refused and the guest stopped with a
// report. The exit's instruction-length field is not defined for EPT violations, so the length
// comes from the decoding. Portable and fuzzed: the bytes are guest-controlled.
#pragma once

#include <cstdint>
#include <span>

#include "arch-x86_64/vmx/guest_registers.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem::x86 {

struct MmioInstruction {
    enum class Kind : std::uint8_t { store_register, store_immediate, load, load_zero_extend };
    Kind kind = Kind::load;
    unsigned size = 0;         // bytes accessed in memory: 1, 2, 4 or 8
    unsigned register_size = 0;  // load: bytes written to the register (movzx widens)
    Gpr reg = Gpr::rax;        // the register operand
    bool high_byte = false;    // AH, CH, DH or BH (8-bit operand, no REX)
    std::uint64_t immediate = 0;
    unsigned length = 0;       // instruction length in bytes
};

// `bytes` are the instruction's bytes from RIP (at most 15); `long_mode`: 64-bit code segment;
// `default_32`: the code segment's default operand size is 32 bits (CS.D, or long mode).
Result<MmioInstruction> decode_mmio_instruction(std::span<const std::uint8_t> bytes, bool long_mode, bool default_32);

// The value a store writes, from the registers.
std::uint64_t mmio_store_value(const MmioInstruction& insn, const GuestRegisters& regs, std::uint64_t rsp);
// Completes a load: writes `value` (already `size` bytes) to the register as the CPU would (8/16
// bits keep the rest of the register, 32 bits clear the upper half, movzx widens).
void mmio_complete_load(const MmioInstruction& insn, std::uint64_t value, GuestRegisters& regs, std::uint64_t& rsp);

}  // namespace tandem::x86
