#include "arch-x86_64/vmx/mmio_instruction.hpp"

namespace tandem::x86 {
namespace {

constexpr unsigned kMaxLength = 15;

struct Prefixes {
    bool operand16 = false;
    bool address_override = false;
    std::uint8_t rex = 0;
    unsigned count = 0;
};

// Length of ModRM + SIB + displacement (SDM Vol. 2A §2.1.5, Tables 2-1 to 2-3), from the ModRM
// byte at `at`. 16-bit addressing (address-size override outside long mode, or real/16-bit
// code) uses Table 2-1.
Result<unsigned> modrm_length(std::span<const std::uint8_t> b, unsigned at, bool address16) {
    if (at >= b.size()) return Error::of("mmio: instruction truncated at ModRM");
    std::uint8_t modrm = b[at];
    unsigned mod = modrm >> 6, rm = modrm & 7;
    if (mod == 3) return Error::of("mmio: register operand where memory was accessed");
    if (address16) {
        if (mod == 0) return rm == 6 ? 3u : 1u;
        return mod == 1 ? 2u : 3u;
    }
    unsigned length = 1;
    if (rm == 4) {
        if (at + 1 >= b.size()) return Error::of("mmio: instruction truncated at SIB");
        ++length;
        std::uint8_t sib = b[at + 1];
        if (mod == 0 && (sib & 7) == 5) length += 4;  // no base: disp32
    } else if (mod == 0 && rm == 5) {
        length += 4;  // disp32 (RIP-relative in long mode)
    }
    if (mod == 1) length += 1;
    if (mod == 2) length += 4;
    return length;
}

}  // namespace

Result<MmioInstruction> decode_mmio_instruction(std::span<const std::uint8_t> b, bool long_mode, bool default_32) {
    if (b.size() > kMaxLength) b = b.first(kMaxLength);
    Prefixes p;
    unsigned i = 0;
    for (; i < b.size(); ++i) {
        std::uint8_t c = b[i];
        if (c == 0x66) {
            p.operand16 = true;
        } else if (c == 0x67) {
            p.address_override = true;
        } else if (c == 0x26 || c == 0x2e || c == 0x36 || c == 0x3e || c == 0x64 || c == 0x65) {
            // segment overrides: the EPT violation already gives the guest-physical address
        } else {
            break;
        }
    }
    if (long_mode && i < b.size() && (b[i] & 0xf0) == 0x40) p.rex = b[i++];
    if (i >= b.size()) return Error::of("mmio: instruction truncated after prefixes");

    bool rex_w = p.rex & 8, rex_r = p.rex & 4;
    bool address16 = long_mode ? false : (default_32 == p.address_override);
    unsigned word = rex_w ? 8 : (p.operand16 == default_32 ? 2 : 4);

    MmioInstruction insn;
    std::uint8_t op = b[i++];
    bool two_byte = false;
    if (op == 0x0f) {
        if (i >= b.size()) return Error::of("mmio: instruction truncated after 0F");
        op = b[i++];
        two_byte = true;
    }
    if (i >= b.size()) return Error::of("mmio: instruction truncated at ModRM");
    std::uint8_t modrm = b[i];
    unsigned reg = ((modrm >> 3) & 7) | (rex_r ? 8u : 0u);
    auto rm_length = modrm_length(b, i, address16);
    if (!rm_length) return rm_length.error();
    unsigned after = i + *rm_length;

    auto set_reg8 = [&](unsigned r) {
        // Without REX, 8-bit registers 4-7 are AH, CH, DH, BH (SDM Vol. 2A §3.1.1.3).
        if (p.rex == 0 && r >= 4 && r < 8) {
            insn.reg = static_cast<Gpr>(r - 4);
            insn.high_byte = true;
        } else {
            insn.reg = static_cast<Gpr>(r);
        }
    };

    if (!two_byte && (op == 0x88 || op == 0x89 || op == 0x8a || op == 0x8b)) {
        bool byte_op = op == 0x88 || op == 0x8a;
        insn.kind = op <= 0x89 ? MmioInstruction::Kind::store_register : MmioInstruction::Kind::load;
        insn.size = byte_op ? 1 : word;
        insn.register_size = insn.size;
        if (byte_op) {
            set_reg8(reg);
        } else {
            insn.reg = static_cast<Gpr>(reg);
        }
    } else if (!two_byte && (op == 0xc6 || op == 0xc7)) {
        if (((modrm >> 3) & 7) != 0) return Error::of("mmio: unsupported C6/C7 form", modrm);
        insn.kind = MmioInstruction::Kind::store_immediate;
        insn.size = op == 0xc6 ? 1 : word;
        unsigned imm_size = insn.size == 8 ? 4 : insn.size;  // imm32 sign-extended for 64-bit
        if (after + imm_size > b.size()) return Error::of("mmio: instruction truncated at the immediate");
        std::uint64_t imm = 0;
        for (unsigned k = 0; k < imm_size; ++k) imm |= static_cast<std::uint64_t>(b[after + k]) << (8 * k);
        if (insn.size == 8 && (imm & 0x80000000u)) imm |= 0xffffffff00000000ull;
        insn.immediate = imm;
        after += imm_size;
    } else if (two_byte && (op == 0xb6 || op == 0xb7)) {
        insn.kind = MmioInstruction::Kind::load_zero_extend;
        insn.size = op == 0xb6 ? 1 : 2;
        insn.register_size = word;
        insn.reg = static_cast<Gpr>(reg);
    } else {
        return Error::of("mmio: not a move tandem emulates; opcode", op);
    }
    if (after > b.size()) return Error::of("mmio: instruction truncated");
    insn.length = after;
    return insn;
}

std::uint64_t mmio_store_value(const MmioInstruction& insn, const GuestRegisters& regs, std::uint64_t rsp) {
    std::uint64_t mask = insn.size == 8 ? ~0ull : (1ull << (8 * insn.size)) - 1;
    if (insn.kind == MmioInstruction::Kind::store_immediate) return insn.immediate & mask;
    std::uint64_t v = insn.reg == Gpr::rsp ? rsp : regs[insn.reg];
    if (insn.high_byte) v >>= 8;
    return v & mask;
}

void mmio_complete_load(const MmioInstruction& insn, std::uint64_t value, GuestRegisters& regs, std::uint64_t& rsp) {
    std::uint64_t& target = insn.reg == Gpr::rsp ? rsp : regs[insn.reg];
    std::uint64_t mask = insn.size == 8 ? ~0ull : (1ull << (8 * insn.size)) - 1;
    value &= mask;
    switch (insn.register_size) {
        case 1:
            if (insn.high_byte) {
                target = (target & ~0xff00ull) | (value << 8);
            } else {
                target = (target & ~0xffull) | value;
            }
            return;
        case 2: target = (target & ~0xffffull) | value; return;
        case 4: target = value & 0xffffffffull; return;  // 32-bit results clear the upper half
        default: target = value; return;
    }
}

}  // namespace tandem::x86
