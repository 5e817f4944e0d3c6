// The MMIO instruction decoder (arch-x86_64/vmx/mmio_instruction.hpp) on known encodings: each
// byte sequence below is what LLVM's assembler (llvm-mc -show-encoding) emits for the instruction
// in the comment, and decodes to the operand, size, direction and length the Intel SDM gives
// (Vol. 2A §2.1, Vol. 2B MOV/MOVZX) in the mode it was assembled for. Refusals name their reason;
// a store's value and a load's completion follow the operand-size rules.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "arch-x86_64/vmx/mmio_instruction.hpp"
#include "helpers.hpp"

using namespace tandem;
using namespace tandem::x86;
using Kind = MmioInstruction::Kind;

namespace {

enum class Mode { real16, protected32, long64 };

Result<MmioInstruction> decode(const std::vector<std::uint8_t>& bytes, Mode mode) {
    return decode_mmio_instruction(bytes, mode == Mode::long64, mode != Mode::real16);
}

struct Expect {
    Kind kind;
    unsigned size;
    unsigned register_size;
    Gpr reg;
    unsigned length;
    bool high_byte = false;
    std::uint64_t immediate = 0;
};

void decodes(const std::vector<std::uint8_t>& bytes, Mode mode, const Expect& e) {
    auto insn = decode(bytes, mode);
    REQUIRE_MESSAGE(insn.ok(), test::message(insn.error()));
    CHECK(insn->kind == e.kind);
    CHECK(insn->size == e.size);
    CHECK(insn->register_size == e.register_size);
    CHECK(insn->reg == e.reg);
    CHECK(insn->length == e.length);
    CHECK(insn->high_byte == e.high_byte);
    CHECK(insn->immediate == e.immediate);
    // Trailing bytes (the next instruction) change nothing; one byte fewer is a truncation.
    std::vector<std::uint8_t> longer = bytes;
    longer.insert(longer.end(), {0x90, 0x90, 0x0f, 0x0b});
    auto again = decode(longer, mode);
    REQUIRE(again.ok());
    CHECK(again->length == e.length);
    std::vector<std::uint8_t> shorter(bytes.begin(), bytes.end() - 1);
    CHECK_FALSE(decode(shorter, mode).ok());
}

void refused(const std::vector<std::uint8_t>& bytes, Mode mode, const std::string& message) {
    auto insn = decode(bytes, mode);
    REQUIRE_FALSE(insn.ok());
    CHECK(test::message(insn.error()) == message);
}
void refused(const std::vector<std::uint8_t>& bytes, Mode mode, const std::string& message, std::uint64_t value) {
    auto insn = decode(bytes, mode);
    REQUIRE_FALSE(insn.ok());
    CHECK(test::message(insn.error()) == message);
    CHECK(insn.error().has_value);
    CHECK(insn.error().value == value);
}

}  // namespace

TEST_SUITE("mmio_instruction") {

TEST_CASE("64-bit code: stores and loads through registers, REX, RIP-relative and SIB addressing") {
    // mov %ecx, (%rax)
    decodes({0x89, 0x08}, Mode::long64, {Kind::store_register, 4, 4, Gpr::rcx, 2});
    // mov 0x10(%rbx), %rax: REX.W
    decodes({0x48, 0x8b, 0x43, 0x10}, Mode::long64, {Kind::load, 8, 8, Gpr::rax, 4});
    // mov 0x1234(%rip), %r9d: REX.R, disp32
    decodes({0x44, 0x8b, 0x0d, 0x34, 0x12, 0x00, 0x00}, Mode::long64, {Kind::load, 4, 4, Gpr::r9, 7});
    // mov (%r12), %r13: REX.WRB, SIB with base r12
    decodes({0x4d, 0x8b, 0x2c, 0x24}, Mode::long64, {Kind::load, 8, 8, Gpr::r13, 4});
    // mov %ax, (%rbx): operand-size prefix
    decodes({0x66, 0x89, 0x03}, Mode::long64, {Kind::store_register, 2, 2, Gpr::rax, 3});
    // mov %fs:0x1000(,%rcx,4), %eax: segment override, SIB without base (disp32)
    decodes({0x64, 0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00}, Mode::long64, {Kind::load, 4, 4, Gpr::rax, 8});
    // mov 0x10(%rcx,%rdx,4), %ecx with disp8 after SIB
    decodes({0x8b, 0x4c, 0x91, 0x10}, Mode::long64, {Kind::load, 4, 4, Gpr::rcx, 4});
    // mov 0x12345678(%rdi), %edx: disp32
    decodes({0x8b, 0x97, 0x78, 0x56, 0x34, 0x12}, Mode::long64, {Kind::load, 4, 4, Gpr::rdx, 6});
}

TEST_CASE("byte registers: AH-BH without REX, SPL-DIL and R8B-R15B with it") {
    // mov %ah, (%rdi)
    decodes({0x88, 0x27}, Mode::long64, {Kind::store_register, 1, 1, Gpr::rax, 2, true});
    // mov %spl, (%rdi): an empty REX makes register 4 SPL
    decodes({0x40, 0x88, 0x27}, Mode::long64, {Kind::store_register, 1, 1, Gpr::rsp, 3});
    // mov (%rsi), %bh
    decodes({0x8a, 0x3e}, Mode::long64, {Kind::load, 1, 1, Gpr::rbx, 2, true});
    // mov (%rsi), %r11b
    decodes({0x44, 0x8a, 0x1e}, Mode::long64, {Kind::load, 1, 1, Gpr::r11, 3});
}

TEST_CASE("immediates: imm8, imm16, imm32 and the sign-extended imm32 of a 64-bit store") {
    // movb $0x5a, 0x10(%rax)
    decodes({0xc6, 0x40, 0x10, 0x5a}, Mode::long64, {Kind::store_immediate, 1, 0, Gpr::rax, 4, false, 0x5a});
    // movw $0x1234, (%rsi)
    decodes({0x66, 0xc7, 0x06, 0x34, 0x12}, Mode::long64, {Kind::store_immediate, 2, 0, Gpr::rax, 5, false, 0x1234});
    // movl $0x12345678, (%rax)
    decodes({0xc7, 0x00, 0x78, 0x56, 0x34, 0x12}, Mode::long64,
            {Kind::store_immediate, 4, 0, Gpr::rax, 6, false, 0x12345678});
    // movq $-1, (%rax)
    decodes({0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0xff}, Mode::long64,
            {Kind::store_immediate, 8, 0, Gpr::rax, 7, false, ~0ull});
    // movq $0x7fffffff, (%rax): positive, not extended
    decodes({0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0x7f}, Mode::long64,
            {Kind::store_immediate, 8, 0, Gpr::rax, 7, false, 0x7fffffff});
    // movl $1, 0xfec00000 in 32-bit code: disp32, then imm32
    decodes({0xc7, 0x05, 0x00, 0x00, 0xc0, 0xfe, 0x01, 0x00, 0x00, 0x00}, Mode::protected32,
            {Kind::store_immediate, 4, 0, Gpr::rax, 10, false, 1});
}

TEST_CASE("movzx: byte and word loads widened to the operand size") {
    // movzbl (%rcx), %eax
    decodes({0x0f, 0xb6, 0x01}, Mode::long64, {Kind::load_zero_extend, 1, 4, Gpr::rax, 3});
    // movzbq (%rcx), %r10
    decodes({0x4c, 0x0f, 0xb6, 0x11}, Mode::long64, {Kind::load_zero_extend, 1, 8, Gpr::r10, 4});
    // movzwl 0x10(%rcx,%rdx,4), %eax
    decodes({0x0f, 0xb7, 0x44, 0x91, 0x10}, Mode::long64, {Kind::load_zero_extend, 2, 4, Gpr::rax, 5});
    // movzbw (%bx), %ax in 16-bit code
    decodes({0x0f, 0xb6, 0x07}, Mode::real16, {Kind::load_zero_extend, 1, 2, Gpr::rax, 3});
}

TEST_CASE("16- and 32-bit code: default sizes, the operand- and address-size prefixes") {
    // mov 0xfec00010 via ModRM (disp32) in 32-bit code
    decodes({0x8b, 0x05, 0x10, 0x00, 0xc0, 0xfe}, Mode::protected32, {Kind::load, 4, 4, Gpr::rax, 6});
    // 16-bit addressing in 32-bit code (addr16): mov 0x1234, %ax, ModRM mod 0 rm 6 is disp16
    decodes({0x67, 0x66, 0x8b, 0x06, 0x34, 0x12}, Mode::protected32, {Kind::load, 2, 2, Gpr::rax, 6});
    // mov %al, (%bx,%si) in real mode
    decodes({0x88, 0x00}, Mode::real16, {Kind::store_register, 1, 1, Gpr::rax, 2});
    // mov 0x1234, %ax in real mode (ModRM form): disp16, 16-bit operand
    decodes({0x8b, 0x06, 0x34, 0x12}, Mode::real16, {Kind::load, 2, 2, Gpr::rax, 4});
    // mov 0x12(%bp,%di), %ebx in real mode: operand-size prefix, disp8
    decodes({0x66, 0x8b, 0x5b, 0x12}, Mode::real16, {Kind::load, 4, 4, Gpr::rbx, 4});
    // movw $0xbeef, 0x1000(%bx) in real mode: disp16, imm16
    decodes({0xc7, 0x87, 0x00, 0x10, 0xef, 0xbe}, Mode::real16, {Kind::store_immediate, 2, 0, Gpr::rax, 6, false, 0xbeef});
    // 32-bit addressing in real mode (addr32): mov (%eax), %cx
    decodes({0x67, 0x8b, 0x08}, Mode::real16, {Kind::load, 2, 2, Gpr::rcx, 3});
}

TEST_CASE("refusals: register operands, other opcodes, other C6/C7 forms, truncations, REX outside 64-bit code") {
    refused({0x89, 0xc8}, Mode::long64, "mmio: register operand where memory was accessed");
    refused({0x01, 0x08}, Mode::long64, "mmio: not a move tandem emulates; opcode", 0x01);
    // The moffs forms (A0-A3) are not among the moves tandem emulates.
    refused({0xa1, 0x10, 0x00, 0xc0, 0xfe}, Mode::protected32, "mmio: not a move tandem emulates; opcode", 0xa1);
    refused({0xc7, 0x48, 0x10, 0, 0, 0, 0}, Mode::long64, "mmio: unsupported C6/C7 form", 0x48);
    refused({0x8b, 0x80, 0x00}, Mode::long64, "mmio: instruction truncated");
    refused({0xc7, 0x00, 0x01, 0x02}, Mode::long64, "mmio: instruction truncated at the immediate");
    refused({0x66, 0x67, 0x2e}, Mode::long64, "mmio: instruction truncated after prefixes");
    refused({0x0f}, Mode::long64, "mmio: instruction truncated after 0F");
    refused({0x8b}, Mode::long64, "mmio: instruction truncated at ModRM");
    refused({0x8b, 0x04}, Mode::long64, "mmio: instruction truncated at SIB");
    refused({}, Mode::long64, "mmio: instruction truncated after prefixes");
    // In 32-bit code 0x48 is DEC EAX, not REX.W.
    refused({0x48, 0x8b, 0x00}, Mode::protected32, "mmio: not a move tandem emulates; opcode", 0x48);
    // Only the first 15 bytes count: 14 prefixes leave no room for the ModRM.
    std::vector<std::uint8_t> prefixes(14, 0x66);
    prefixes.insert(prefixes.end(), {0x8b, 0x00});
    refused(prefixes, Mode::long64, "mmio: instruction truncated at ModRM");
}

TEST_CASE("a store's value: the register's low bytes, AH-BH's second byte, RSP from the VMCS, the immediate") {
    GuestRegisters regs{};
    regs[Gpr::rax] = 0x1122'3344'5566'7788ull;
    regs[Gpr::rsp] = 0xdead;  // unused slot: RSP lives in the VMCS
    std::uint64_t rsp = 0xaaaa'bbbb'cccc'ddddull;
    auto value = [&](const std::vector<std::uint8_t>& bytes) {
        auto insn = decode(bytes, Mode::long64);
        REQUIRE(insn.ok());
        return mmio_store_value(*insn, regs, rsp);
    };
    CHECK(value({0x89, 0x00}) == 0x5566'7788u);                // mov %eax, (%rax)
    CHECK(value({0x48, 0x89, 0x00}) == 0x1122'3344'5566'7788ull);  // mov %rax, (%rax)
    CHECK(value({0x66, 0x89, 0x00}) == 0x7788u);               // mov %ax, (%rax)
    CHECK(value({0x88, 0x20}) == 0x77u);                       // mov %ah, (%rax)
    CHECK(value({0x88, 0x00}) == 0x88u);                       // mov %al, (%rax)
    CHECK(value({0x48, 0x89, 0x20}) == rsp);                   // mov %rsp, (%rax)
    CHECK(value({0x40, 0x88, 0x20}) == 0xddu);                 // mov %spl, (%rax)
    CHECK(value({0xc6, 0x00, 0xab}) == 0xabu);                 // movb $0xab, (%rax)
}

TEST_CASE("completing a load: 8 and 16 bits keep the rest, 32 bits clear the upper half, movzx widens") {
    auto after = [](const std::vector<std::uint8_t>& bytes, std::uint64_t loaded, Gpr reg) {
        GuestRegisters regs{};
        for (unsigned i = 0; i < 16; ++i) regs.gpr[i] = 0xffff'ffff'ffff'ff00ull | i;
        std::uint64_t rsp = 0x5555'5555'5555'5555ull;
        auto insn = decode(bytes, Mode::long64);
        REQUIRE(insn.ok());
        mmio_complete_load(*insn, loaded, regs, rsp);
        for (unsigned i = 0; i < 16; ++i) {
            if (static_cast<Gpr>(i) != reg) CHECK(regs.gpr[i] == (0xffff'ffff'ffff'ff00ull | i));
        }
        if (reg != Gpr::rsp) CHECK(rsp == 0x5555'5555'5555'5555ull);
        return reg == Gpr::rsp ? rsp : regs[reg];
    };
    std::uint64_t loaded = 0x0102'0304'0506'0708ull;  // more bits than any access: only `size` count
    CHECK(after({0x8b, 0x08}, loaded, Gpr::rcx) == 0x0506'0708u);                        // mov (%rax), %ecx
    CHECK(after({0x48, 0x8b, 0x08}, loaded, Gpr::rcx) == loaded);                        // mov (%rax), %rcx
    CHECK(after({0x66, 0x8b, 0x08}, loaded, Gpr::rcx) == 0xffff'ffff'ffff'0708ull);      // mov (%rax), %cx
    CHECK(after({0x8a, 0x08}, loaded, Gpr::rcx) == 0xffff'ffff'ffff'ff08ull);            // mov (%rax), %cl
    CHECK(after({0x8a, 0x28}, loaded, Gpr::rcx) == 0xffff'ffff'ffff'0801ull);            // mov (%rax), %ch
    CHECK(after({0x0f, 0xb6, 0x08}, loaded, Gpr::rcx) == 0x08u);                         // movzbl (%rax), %ecx
    CHECK(after({0x48, 0x0f, 0xb7, 0x08}, loaded, Gpr::rcx) == 0x0708u);                 // movzwq (%rax), %rcx
    CHECK(after({0x66, 0x0f, 0xb6, 0x08}, loaded, Gpr::rcx) == 0xffff'ffff'ffff'0008ull);  // movzbw (%rax), %cx
    CHECK(after({0x48, 0x8b, 0x20}, loaded, Gpr::rsp) == loaded);                        // mov (%rax), %rsp
}

}  // TEST_SUITE
