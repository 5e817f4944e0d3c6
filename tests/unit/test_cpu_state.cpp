// The vCPU state as it travels in a checkpoint (replication/checkpoint/cpu_state.hpp): encoding,
// the decoder's checks, the digest; and its capture from / restore into a VMCS and the
// processor (arch-x86_64/vmx/cpu_state_capture.hpp) over a fake VMCS and a fake platform.
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "arch-x86_64/vmx/cpu_state_capture.hpp"
#include "arch-x86_64/vmx/vmx_controls.hpp"
#include "ckpt_fake_cpu_platform.hpp"
#include "ckpt_memory.hpp"
#include "ckpt_stream_builder.hpp"
#include "vmx_fake_vmcs.hpp"

using namespace tandem::checkpoint;
using namespace tandem::x86;
using ckpt::Bytes;
using ckpt::err;
using ckpt::StreamBuilder;
namespace keys = tandem::checkpoint::cpu_state_keys;

namespace {

Bytes encoded(const CpuState& s) {
    Bytes out(kCpuStateMaxPayload);
    tandem::ByteWriter w(out);
    s.encode(w);
    REQUIRE_FALSE(w.overflow());
    out.resize(w.size());
    return out;
}

// An encoding with the given header and (key, value) pairs and an XSAVE image of `xsave` bytes.
Bytes raw(std::uint16_t version, std::uint16_t count, const std::vector<std::uint32_t>& fields, std::uint32_t xsave_size,
          std::size_t xsave_bytes) {
    Bytes b;
    StreamBuilder::le(b, version, 2);
    StreamBuilder::le(b, count, 2);
    for (std::uint32_t k : fields) {
        StreamBuilder::le(b, k, 4);
        StreamBuilder::le(b, 0x1122334455667788ull, 8);
    }
    StreamBuilder::le(b, xsave_size, 4);
    b.insert(b.end(), xsave_bytes, 0xab);
    return b;
}

std::string decode_error(const Bytes& b) {
    auto s = std::make_unique<CpuState>();
    return err(s->decode(b));
}

}  // namespace

TEST_CASE("cpu state: random states round trip through the encoding") {
    ckpt::Rng rng(0xc9);
    auto a = std::make_unique<CpuState>(), b = std::make_unique<CpuState>();
    for (int i = 0; i < 60; ++i) {
        std::size_t fields = i == 0 ? 0 : i == 1 ? CpuState::kMaxFields : ckpt::below(rng, CpuState::kMaxFields + 1);
        std::size_t xsave = i == 2 ? CpuState::kMaxXsave : ckpt::below(rng, 3) == 0 ? 0 : ckpt::below(rng, 3000);
        ckpt::random_cpu(*a, rng, fields, xsave);
        Bytes e = encoded(*a);
        CHECK(e.size() == 4 + 12 * fields + 4 + xsave);
        (void)b->set(0x10000, 1);  // decode starts from a clean state
        REQUIRE(err(b->decode(e)) == "");
        ckpt::check_same_cpu(*a, *b);
    }
}

TEST_CASE("cpu state: the exact encoding") {
    auto s = std::make_unique<CpuState>();
    REQUIRE(s->set(0x681e, 0x0102030405060708ull));
    REQUIRE(s->set(keys::cr2, 0xff));
    REQUIRE(s->set(0x681e, 0x99));  // replaces, keeps its place
    CHECK(s->field_count() == 2);
    CHECK(s->get(0x681e) == 0x99u);
    CHECK_FALSE(s->get(0x6820).has_value());
    REQUIRE(s->set_xsave(Bytes{1, 2, 3}));
    CHECK(encoded(*s) == Bytes{1, 0, 2, 0,                                      // version 1, 2 fields
                               0x1e, 0x68, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0,     // guest RIP
                               0x00, 0x01, 1, 0, 0xff, 0, 0, 0, 0, 0, 0, 0,     // CR2
                               3, 0, 0, 0, 1, 2, 3});                           // XSAVE
}

TEST_CASE("cpu state: decode rejects unknown keys, duplicates, too many fields, oversized XSAVE, trailing bytes") {
    CHECK(decode_error(raw(1, 4, {0, 0x7ffe, 0x10000, 0x103ff}, 0, 0)) == "");  // the edges of the known ranges
    for (std::uint32_t key : {0x4013u, 0x1u, 0x8000u, 0xfffeu, 0xffffu, 0x10400u, 0x20000u, 0xffffffffu}) {
        CAPTURE(key);
        CHECK(decode_error(raw(1, 1, {key}, 0, 0)) == "cpu state: unknown field key");
    }
    CHECK(decode_error(raw(1, 3, {0x681e, 0x10000, 0x681e}, 0, 0)) == "cpu state: field given twice");
    std::vector<std::uint32_t> many;
    for (std::uint32_t k = 0; k < CpuState::kMaxFields + 1; ++k) many.push_back(keys::gpr_base + k);
    CHECK(decode_error(raw(1, 129, many, 0, 0)) == "cpu state: too many fields");
    CHECK(decode_error(raw(1, 0xffff, {}, 0, 0)) == "cpu state: too many fields");
    many.pop_back();
    CHECK(decode_error(raw(1, 128, many, 0, 0)) == "");
    CHECK(decode_error(raw(1, 0, {}, CpuState::kMaxXsave + 1, CpuState::kMaxXsave + 1)) == "cpu state: XSAVE image too large");
    CHECK(decode_error(raw(1, 0, {}, 0xffffffffu, 0)) == "cpu state: XSAVE image too large");
    CHECK(decode_error(raw(1, 0, {}, CpuState::kMaxXsave, CpuState::kMaxXsave)) == "");
    CHECK(decode_error(raw(1, 0, {}, 2, 3)) == "cpu state: trailing bytes");
    Bytes trailing = raw(1, 1, {0x681e}, 0, 0);
    trailing.push_back(0);
    CHECK(decode_error(trailing) == "cpu state: trailing bytes");
    CHECK(decode_error(raw(0, 0, {}, 0, 0)) == "cpu state: unsupported version");
    CHECK(decode_error(raw(2, 0, {}, 0, 0)) == "cpu state: unsupported version");
}

TEST_CASE("cpu state: every truncation of a valid encoding is refused with its reason") {
    ckpt::Rng rng(5);
    auto s = std::make_unique<CpuState>();
    ckpt::random_cpu(*s, rng, 3, 5);
    Bytes e = encoded(*s);
    for (std::size_t n = 0; n < e.size(); ++n) {
        CAPTURE(n);
        const char* expected = n < 4                 ? "cpu state: truncated header"
                               : n < 4 + 36          ? "cpu state: truncated field"
                               : n < 4 + 36 + 4      ? "cpu state: truncated XSAVE size"
                                                     : "cpu state: truncated XSAVE image";
        CHECK(decode_error(Bytes(e.begin(), e.begin() + static_cast<std::ptrdiff_t>(n))) == expected);
    }
}

TEST_CASE("cpu state: limits of set() and set_xsave()") {
    auto s = std::make_unique<CpuState>();
    for (std::uint32_t k = 0; k < CpuState::kMaxFields; ++k) REQUIRE(s->set(keys::gpr_base + k, k));
    CHECK(err(s->set(keys::cr2, 1)) == "cpu state: too many fields");
    CHECK(err(s->set(keys::gpr_base + 5, 55)) == "");  // replacing still works when full
    CHECK(s->get(keys::gpr_base + 5) == 55u);
    Bytes big(CpuState::kMaxXsave + 1, 1);
    CHECK(err(s->set_xsave(big)) == "cpu state: XSAVE image too large");
    s->set_xsave_size(CpuState::kMaxXsave + 1);
    CHECK(s->xsave().empty());
    s->set_xsave_size(16);
    CHECK(s->xsave().size() == 16);
}

TEST_CASE("cpu state: equal states have equal digests; any change changes it") {
    ckpt::Rng rng(6);
    auto a = std::make_unique<CpuState>(), b = std::make_unique<CpuState>();
    ckpt::random_cpu(*a, rng, 20, 100);
    REQUIRE(b->decode(encoded(*a)));
    CHECK(a->digest() == b->digest());
    std::uint64_t d = a->digest();
    REQUIRE(b->set(b->key_at(7), b->value_at(7)));  // same value again
    CHECK(b->digest() == d);
    REQUIRE(b->set(b->key_at(7), b->value_at(7) ^ 1));
    CHECK(b->digest() != d);
    REQUIRE(b->decode(encoded(*a)));
    REQUIRE(b->set(keys::xcr0 + 0x77, 0));  // one more field, even a zero one
    CHECK(b->digest() != d);
    REQUIRE(b->decode(encoded(*a)));
    Bytes x(a->xsave().begin(), a->xsave().end());
    x[50] ^= 0x10;
    REQUIRE(b->set_xsave(x));
    CHECK(b->digest() != d);
    x[50] ^= 0x10;
    x.push_back(0);  // a longer image, even by a zero byte
    REQUIRE(b->set_xsave(x));
    CHECK(b->digest() != d);
    b->clear();
    CHECK(b->digest() != d);
    CHECK(b->field_count() == 0);
}

// ---- capture and restore -------------------------------------------------------------------

namespace {

// A VMCS with every field of every width and kind (indexes 0..63) set to a random value, GPRs,
// and a platform with TSC, XCR0 + XSAVE, MSRs and debug registers.
struct Machine {
    explicit Machine(std::uint64_t seed, std::uint64_t tsc) {
        ckpt::Rng rng(seed);
        for (std::uint32_t w = 0; w < 4; ++w) {
            for (std::uint32_t k = 0; k < 4; ++k) {
                for (std::uint32_t i = 0; i < 64; ++i) {
                    vmcs.set(vmcs_field(static_cast<VmcsWidth>(w), static_cast<VmcsKind>(k), i), rng());
                }
            }
        }
        for (auto& g : regs.gpr) g = rng();
        regs.cr2 = rng();
        platform.tsc = tsc;
        platform.xcr0 = 0xe7;
        platform.xsave.resize(2688);
        ckpt::fill_random(platform.xsave, rng);
        ckpt::make_restorable(platform.xsave, 0xe7);
        for (std::uint32_t msr : {0xc0000081u, 0xc0000082u, 0xc0000083u, 0xc0000084u, 0xc0000102u, 0xc0000103u}) platform.msrs[msr] = rng();
        for (unsigned n : {0u, 1u, 2u, 3u, 6u}) platform.dr[n] = rng();
    }
    test::FakeVmcs vmcs;
    GuestRegisters regs{};
    ckpt::FakeCpuPlatform platform;
};

constexpr CrPolicy kAnyCr{0, ~0ull, 0, ~0ull, 0, 0};

}  // namespace

TEST_CASE("cpu state capture: capture, restore into a fresh vCPU, capture again: identical") {
    Machine a(1, 1000);
    a.vmcs.set(vmcs::tsc_offset, 500);
    auto state = std::make_unique<CpuState>();
    REQUIRE(err(capture_cpu_state(a.vmcs, a.regs, a.platform, *state)) == "");
    CHECK(state->get(keys::guest_tsc) == 1500u);
    CHECK(state->get(0x681e) == a.vmcs.read(vmcs::guest_rip));
    CHECK(state->get(encoding(vmcs::guest_cr3)) == a.vmcs.read(vmcs::guest_cr3));
    CHECK(state->get(encoding(vmcs::cr0_read_shadow)) == a.vmcs.read(vmcs::cr0_read_shadow));
    CHECK(state->get(encoding(vmcs::entry_interruption_info)) == a.vmcs.read(vmcs::entry_interruption_info));
    CHECK(state->get(encoding(vmcs::entry_controls)) == (a.vmcs.read(vmcs::entry_controls) & entry_ctl::ia32e_mode_guest));
    CHECK_FALSE(state->get(encoding(vmcs::host_rip)).has_value());
    CHECK_FALSE(state->get(keys::gpr_base + 4).has_value());  // RSP is the VMCS's
    CHECK(state->get(keys::gpr_base + 15) == a.regs.gpr[15]);
    CHECK(state->get(keys::dr_base + 6) == a.platform.dr[6]);
    CHECK(state->get(keys::msr_base + 5) == a.platform.msrs[0xc0000103]);
    CHECK(state->xsave().size() == 2688);

    Machine b(2, 10'000);
    b.vmcs.set(vmcs::entry_controls, 0x11fb & ~entry_ctl::ia32e_mode_guest);
    b.vmcs.forget_writes();
    GuestRegisters before = b.regs;
    REQUIRE(err(restore_cpu_state(*state, b.vmcs, b.regs, b.platform, kAnyCr)) == "");
    std::size_t vmcs_keys = 0;
    for (std::size_t i = 0; i < state->field_count(); ++i) {
        std::uint32_t key = state->key_at(i);
        if (key >= 0x8000) continue;
        ++vmcs_keys;
        CAPTURE(key);
        if (key == encoding(vmcs::entry_controls)) continue;
        CHECK(b.vmcs.read(static_cast<VmcsField>(key)) == state->value_at(i));
    }
    CHECK(b.vmcs.read(vmcs::entry_controls) == ((0x11fb & ~entry_ctl::ia32e_mode_guest) | *state->get(encoding(vmcs::entry_controls))));
    CHECK(b.vmcs.read(vmcs::tsc_offset) == 1500 - 10'000ull);  // the guest's TSC continues from 1500
    CHECK(b.vmcs.fields_written() == vmcs_keys + 1);             // the guest state and the TSC offset, nothing else
    CHECK(b.vmcs.writes(vmcs::host_rip) == 0);
    CHECK(b.regs.gpr[4] == before.gpr[4]);
    CHECK(b.platform.xcr0 == 0xe7);
    CHECK(b.platform.xsave == a.platform.xsave);

    auto again = std::make_unique<CpuState>();
    REQUIRE(err(capture_cpu_state(b.vmcs, b.regs, b.platform, *again)) == "");
    ckpt::check_same_cpu(*state, *again);
}

TEST_CASE("cpu state capture: CR0/CR4 are restored with this processor's fixed bits") {
    Machine a(3, 1);
    a.vmcs.set(vmcs::guest_cr0, 0x8000'0011);
    a.vmcs.set(vmcs::guest_cr4, 0x20);
    auto state = std::make_unique<CpuState>();
    REQUIRE(capture_cpu_state(a.vmcs, a.regs, a.platform, *state));
    Machine b(4, 1);
    CrPolicy cr{0x21, 0xffff'ffff'7fff'ffffull, 0x2000, ~0x20ull, 0, 0};
    REQUIRE(restore_cpu_state(*state, b.vmcs, b.regs, b.platform, cr));
    CHECK(b.vmcs.read(vmcs::guest_cr0) == 0x31);
    CHECK(b.vmcs.read(vmcs::guest_cr4) == 0x2000);
    CHECK(b.vmcs.read(vmcs::cr0_read_shadow) == a.vmcs.read(vmcs::cr0_read_shadow));
}

TEST_CASE("cpu state capture: a state missing a required field is refused before anything is written") {
    Machine a(5, 77);
    auto full = std::make_unique<CpuState>(), partial = std::make_unique<CpuState>();
    REQUIRE(capture_cpu_state(a.vmcs, a.regs, a.platform, *full));
    unsigned required = 0;
    for (std::size_t skip = 0; skip < full->field_count(); ++skip) {
        std::uint32_t key = full->key_at(skip);
        bool vmcs_field = key < 0x8000;
        if (!vmcs_field && key != keys::guest_tsc && key != keys::cr2 && key != keys::xcr0) continue;
        ++required;
        CAPTURE(key);
        partial->clear();
        for (std::size_t i = 0; i < full->field_count(); ++i) {
            if (i != skip) REQUIRE(partial->set(full->key_at(i), full->value_at(i)));
        }
        REQUIRE(partial->set_xsave(full->xsave()));
        Machine b(6, 88);
        b.vmcs.forget_writes();
        GuestRegisters before = b.regs;
        auto dr = b.platform.dr;
        std::string e = err(restore_cpu_state(*partial, b.vmcs, b.regs, b.platform, kAnyCr));
        CHECK(e == (vmcs_field && key != encoding(vmcs::entry_controls) ? "cpu state: missing VMCS field" : "cpu state: missing field"));
        CHECK(b.vmcs.fields_written() == 0);
        CHECK(b.platform.writes == 0);
        CHECK(std::equal(std::begin(before.gpr), std::end(before.gpr), std::begin(b.regs.gpr)));
        CHECK(b.regs.cr2 == before.cr2);
        CHECK(b.platform.dr == dr);
    }
    CHECK(required > 60);
}

TEST_CASE("cpu state capture: XCR0 and XSAVE, TSC_AUX, and refusals") {
    Machine a(7, 5);
    auto state = std::make_unique<CpuState>();
    SUBCASE("no XSAVE on the machine: no image, XCR0 and the area left alone on restore") {
        a.platform.xcr0 = 0;
        REQUIRE(capture_cpu_state(a.vmcs, a.regs, a.platform, *state));
        CHECK(state->get(keys::xcr0) == 0u);
        CHECK(state->xsave().empty());
        Machine b(8, 5);
        REQUIRE(restore_cpu_state(*state, b.vmcs, b.regs, b.platform, kAnyCr));
        CHECK(b.platform.xcr0 == 0xe7);
        CHECK(b.platform.xsave.size() == 2688);
    }
    SUBCASE("XSAVE that fails or does not fit is an error") {
        a.platform.xsave.assign(CpuState::kMaxXsave + 64, 1);
        CHECK(err(capture_cpu_state(a.vmcs, a.regs, a.platform, *state)) == "cpu state: XSAVE failed or its area is too small");
        a.platform.xsave.clear();
        CHECK(err(capture_cpu_state(a.vmcs, a.regs, a.platform, *state)) == "cpu state: XSAVE failed or its area is too small");
    }
    SUBCASE("XCR0 without an image is refused before any write") {
        REQUIRE(capture_cpu_state(a.vmcs, a.regs, a.platform, *state));
        state->set_xsave_size(0);
        Machine b(9, 5);
        b.vmcs.forget_writes();
        CHECK(err(restore_cpu_state(*state, b.vmcs, b.regs, b.platform, kAnyCr)) == "cpu state: XCR0 set but no XSAVE image");
        CHECK(b.vmcs.fields_written() == 0);
        CHECK(b.platform.writes == 0);
    }
    SUBCASE("a processor that refuses the guest's XCR0") {
        REQUIRE(capture_cpu_state(a.vmcs, a.regs, a.platform, *state));
        Machine b(10, 5);
        b.platform.refuse_xcr0 = true;
        CHECK(err(restore_cpu_state(*state, b.vmcs, b.regs, b.platform, kAnyCr)) == "cpu state: this processor refuses the guest's XCR0");
    }
    SUBCASE("TSC_AUX travels only where the processor has it") {
        a.platform.tsc_aux = false;
        REQUIRE(capture_cpu_state(a.vmcs, a.regs, a.platform, *state));
        CHECK_FALSE(state->get(keys::msr_base + 5).has_value());
        CHECK(state->get(keys::msr_base + 4) == a.platform.msrs[0xc0000102]);
        Machine b(11, 5);
        std::uint64_t aux = b.platform.msrs[0xc0000103];
        REQUIRE(restore_cpu_state(*state, b.vmcs, b.regs, b.platform, kAnyCr));
        CHECK(b.platform.msrs[0xc0000103] == aux);
        CHECK(b.platform.msrs[0xc0000102] == a.platform.msrs[0xc0000102]);
    }
}
