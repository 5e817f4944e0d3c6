// libFuzzer: the two things tandem does with guest bytes when the guest touches device memory:
// walking the guest's own page tables to find the instruction at RIP
// (arch-x86_64/vmx/guest_page_walk.cpp) and decoding that instruction
// (arch-x86_64/vmx/mmio_instruction.cpp), over fuzzed guest RAM (fuzz_guest_ram.hpp: two chunks,
// guard pages around each). Input layout (fuzz::Input):
//   u8   paging: bits 2-3 the mode (off, 32-bit, PAE, 4-level), bit 4 CR4.PSE, bit 5 EFER.NXE,
//        bit 6 CR4.LA57 (the decoder is tried in all three code-segment modes)
//   u64  CR3, u64 the linear address to translate
//   u16  where the rest goes in guest RAM (x 16 bytes); the rest: guest RAM from there
// Checked, beyond ASan/UBSan:
//   walk    nothing in host memory changes (guest RAM and the guard pages); paging off gives the
//           linear address truncated to 32 bits; a translation moves with the offset inside its
//           4 KiB page; address bits the mode ignores (63:48 in 4-level paging, 63:32 otherwise)
//           change nothing; a refusal names the linear address.
//   decode  on the RAM at the translation and on the input's own bytes, under every mode and for
//           every length 0-15: the length never exceeds the bytes given (nor 15); exactly `length`
//           bytes decode to the same instruction and one byte fewer does not decode; sizes,
//           registers and immediates are ones the encoding can express in that mode; a store's
//           value fits its size, and completing a load changes only its target register, as the
//           SDM's operand-size rules say.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

#include "arch-x86_64/vmx/guest_page_walk.hpp"
#include "arch-x86_64/vmx/mmio_instruction.hpp"
#include "tests/fuzz/fuzz_guest_ram.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using tandem::x86::decode_mmio_instruction;
using tandem::x86::Gpr;
using tandem::x86::GuestRegisters;
using tandem::x86::MmioInstruction;

constexpr std::uint64_t kChunk = 32 * 1024;  // guest RAM: 64 KiB in two chunks
constexpr std::uint64_t kCr0Pe = 1, kCr0Pg = 1ull << 31;
constexpr std::uint64_t kCr4Pse = 1ull << 4, kCr4Pae = 1ull << 5, kCr4La57 = 1ull << 12;
constexpr std::uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferNxe = 1ull << 11;

// A failed check names its line before the trap, so a reproducer says which property broke.
[[noreturn]] void fail(int line = __builtin_LINE()) {
    std::fprintf(stderr, "%s:%d: check failed\n", __FILE__, line);
    __builtin_trap();
}
void check(bool ok, int line = __builtin_LINE()) {
    if (!ok) fail(line);
}

bool same(const MmioInstruction& a, const MmioInstruction& b) {
    return a.kind == b.kind && a.size == b.size && a.register_size == b.register_size && a.reg == b.reg &&
           a.high_byte == b.high_byte && a.immediate == b.immediate && a.length == b.length;
}

std::uint64_t mask_of(unsigned bytes) { return bytes >= 8 ? ~0ull : (1ull << (8 * bytes)) - 1; }

// What a decoded instruction may be in this mode (SDM Vol. 2A §2.1-§2.2, Vol. 2B MOV/MOVZX).
void check_instruction(const MmioInstruction& insn, std::size_t given, bool long_mode) {
    check(insn.length >= 2 && insn.length <= 15 && insn.length <= given);
    check(insn.size == 1 || insn.size == 2 || insn.size == 4 || insn.size == 8);
    check(long_mode || insn.size != 8);  // 64-bit operands need REX.W
    auto reg = static_cast<unsigned>(insn.reg);
    check(reg < 16 && (long_mode || reg < 8));  // r8-r15 need REX
    check(!insn.high_byte || (insn.size == 1 && reg < 4));
    switch (insn.kind) {
        case MmioInstruction::Kind::store_register:
        case MmioInstruction::Kind::load:
            check(insn.register_size == insn.size && insn.immediate == 0);
            break;
        case MmioInstruction::Kind::store_immediate:
            // imm8/16/32; a 64-bit store takes imm32 sign-extended.
            if (insn.size < 8) check((insn.immediate & ~mask_of(insn.size)) == 0);
            if (insn.size == 8) check((insn.immediate >> 31) == 0 || (insn.immediate >> 31) == 0x1'ffff'ffffull);
            break;
        case MmioInstruction::Kind::load_zero_extend:
            check(insn.size <= 2 && insn.register_size >= insn.size && insn.register_size != 1 && !insn.high_byte);
            check(long_mode || insn.register_size != 8);
            break;
    }
}

// The store's value and a load's completion against the operand-size rules, on registers that are
// all different so a write to the wrong one shows.
void check_operands(const MmioInstruction& insn, std::uint64_t seed) {
    GuestRegisters regs{};
    for (unsigned i = 0; i < 16; ++i) regs.gpr[i] = seed * (2 * i + 1) + 0x0123'4567'89ab'cdefull * i;
    regs.cr2 = seed ^ 0x5555;
    std::uint64_t rsp = ~seed;
    std::uint64_t value = mmio_store_value(insn, regs, rsp);
    check((value & ~mask_of(insn.size)) == 0);
    if (insn.kind == MmioInstruction::Kind::store_register) {
        std::uint64_t source = insn.reg == Gpr::rsp ? rsp : regs[insn.reg];
        check(value == ((insn.high_byte ? source >> 8 : source) & mask_of(insn.size)));
    }
    if (insn.kind != MmioInstruction::Kind::load && insn.kind != MmioInstruction::Kind::load_zero_extend) return;

    GuestRegisters after = regs;
    std::uint64_t rsp_after = rsp;
    std::uint64_t loaded = seed * 0x9e37'79b9'7f4a'7c15ull;
    mmio_complete_load(insn, loaded, after, rsp_after);
    for (unsigned i = 0; i < 16; ++i) {
        if (i != static_cast<unsigned>(insn.reg) || insn.reg == Gpr::rsp) check(after.gpr[i] == regs.gpr[i]);
    }
    check(after.cr2 == regs.cr2);
    std::uint64_t before = insn.reg == Gpr::rsp ? rsp : regs[insn.reg];
    std::uint64_t now = insn.reg == Gpr::rsp ? rsp_after : after[insn.reg];
    if (insn.reg != Gpr::rsp) check(rsp_after == rsp);
    std::uint64_t v = loaded & mask_of(insn.size);  // the device answers `size` bytes
    std::uint64_t expected = 0;
    switch (insn.register_size) {
        case 1: expected = insn.high_byte ? (before & ~0xff00ull) | v << 8 : (before & ~0xffull) | v; break;
        case 2: expected = (before & ~0xffffull) | v; break;
        case 4: expected = v; break;  // 32-bit results zero the upper half
        case 8: expected = v; break;
        default: fail();
    }
    check(now == expected);
}

void decode_all(std::span<const std::uint8_t> bytes, std::uint64_t seed) {
    if (bytes.size() > 15) bytes = bytes.first(15);
    for (unsigned mode = 0; mode < 3; ++mode) {
        bool long_mode = mode == 2, default_32 = mode != 0;  // real/16-bit, 32-bit, 64-bit code
        for (std::size_t n = 0; n <= bytes.size(); ++n) {
            auto insn = decode_mmio_instruction(bytes.first(n), long_mode, default_32);
            if (!insn) {
                check(insn.error().message != nullptr && std::string_view(insn.error().message).starts_with("mmio: "));
                continue;
            }
            check_instruction(*insn, n, long_mode);
            // The decoding depends on exactly `length` bytes: no fewer, and nothing after them.
            auto exact = decode_mmio_instruction(bytes.first(insn->length), long_mode, default_32);
            check(exact.ok() && same(*exact, *insn));
            check(!decode_mmio_instruction(bytes.first(insn->length - 1), long_mode, default_32).ok());
            check_operands(*insn, seed + n);
        }
    }
    // More than 15 bytes: only the first 15 count.
    std::uint8_t longer[32];
    std::memset(longer, 0x90, sizeof longer);
    std::memcpy(longer, bytes.data(), bytes.size());
    auto a = decode_mmio_instruction({longer, 15}, true, true);
    auto b = decode_mmio_instruction({longer, sizeof longer}, true, true);
    check(a.ok() == b.ok());
    if (a) check(same(*a, *b));
}

tandem::x86::GuestPagingState paging_state(std::uint8_t mode, std::uint64_t cr3) {
    tandem::x86::GuestPagingState s{0, cr3, 0, 0};
    switch ((mode >> 2) & 3) {
        case 0: s.cr0 = kCr0Pe; break;
        case 1: s.cr0 = kCr0Pe | kCr0Pg; break;
        case 2: s.cr0 = kCr0Pe | kCr0Pg; s.cr4 = kCr4Pae; break;
        default: s.cr0 = kCr0Pe | kCr0Pg; s.cr4 = kCr4Pae; s.efer = kEferLme | kEferLma; break;
    }
    if (mode & 0x10) s.cr4 |= kCr4Pse;
    if (mode & 0x20) s.efer |= kEferNxe;
    if (mode & 0x40) s.cr4 |= kCr4La57;
    return s;
}

void check_walk(const tandem::GuestMemory& memory, const tandem::x86::GuestPagingState& s, std::uint64_t linear) {
    using tandem::x86::guest_linear_to_physical;
    auto r = guest_linear_to_physical(memory, s, linear);
    bool four_level = (s.cr0 & kCr0Pg) && (s.efer & kEferLma);
    if (!(s.cr0 & kCr0Pg)) {
        check(r.ok() && *r == (linear & 0xffff'ffffull));
        return;
    }
    // Bits the mode does not translate change nothing, whatever the outcome.
    std::uint64_t ignored = four_level ? 0xffff'0000'0000'0000ull : 0xffff'ffff'0000'0000ull;
    const std::uint64_t flips[] = {ignored, ignored & 0x8000'0000'0000'0000ull, ignored & 0x0000'ffff'0000'0000ull};
    for (std::uint64_t flip : flips) {
        if (flip == 0) continue;
        auto other = guest_linear_to_physical(memory, s, linear ^ flip);
        check(other.ok() == r.ok());
        if (r) check(*other == *r);
        if (!r) check(std::string_view(other.error().message) == r.error().message);
    }
    if (!r) {
        std::string_view m = r.error().message;
        if (m == "guest page walk: 5-level paging is not supported") {
            check(four_level && (s.cr4 & kCr4La57));
        } else {
            check(m.starts_with("guest page walk: ") || m.starts_with("guest memory: "));
            // The report names the address the guest used (32 bits wide outside 4-level paging).
            check(r.error().value == (four_level ? linear : linear & 0xffff'ffffull));
        }
        return;
    }
    check(*r < (1ull << 52));
    // 32-bit paging reaches 40 bits (PSE-36); PAE and 4-level paging reach 52 (SDM Vol. 3A §5.4-§5.5).
    if (!(s.cr4 & kCr4Pae)) check(*r < (1ull << 40));
    // The whole 4 KiB page around it translates alike.
    for (std::uint64_t offset : {0x000ull, 0x001ull, 0x7ffull, 0xff8ull, 0xfffull}) {
        auto moved = guest_linear_to_physical(memory, s, (linear & ~0xfffull) | offset);
        check(moved.ok() && *moved == ((*r & ~0xfffull) | offset));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    std::uint8_t mode = in.u8();
    std::uint64_t cr3 = in.u64();
    std::uint64_t linear = in.u64();
    std::uint64_t at = static_cast<std::uint64_t>(in.u16()) * 16;
    auto ram_bytes = in.rest();

    static fuzz::GuardedRam* ram = new fuzz::GuardedRam(kChunk);  // kept: zeroed again below
    if (!ram->memory().fill(0, 0, ram->size())) fail();
    ram->load(at, ram_bytes);
    auto before = ram->snapshot();

    auto paging = paging_state(mode, cr3);
    check_walk(ram->memory(), paging, linear);
    check(ram->unchanged(before));

    // Decode what the vCPU would: the bytes at the translation, up to the end of the page.
    std::uint8_t fetched[15] = {};
    std::size_t got = 0;
    if (auto gpa = tandem::x86::guest_linear_to_physical(ram->memory(), paging, linear)) {
        std::size_t n = 4096 - (*gpa & 0xfff);
        if (n > sizeof fetched) n = sizeof fetched;
        if (ram->memory().read(*gpa, {fetched, n})) got = n;
    }
    decode_all({fetched, got}, linear);
    decode_all(ram_bytes, cr3);
    check(ram->unchanged(before));
    return 0;
}
