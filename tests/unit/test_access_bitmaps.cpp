// I/O and MSR bitmaps (arch-x86_64/vmx/access_bitmaps.hpp): deny by default, allow by list
// (SDM Vol. 3C §26.6.4: bitmap A for ports 0-0x7fff, B for 0x8000-0xffff; §26.6.9: read-low,
// read-high, write-low, write-high quarters of one 4 KiB page).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "arch-x86_64/vmx/access_bitmaps.hpp"

using namespace tandem::x86;

namespace {

bool listed(std::span<const std::uint32_t> list, std::uint32_t msr) {
    return std::find(list.begin(), list.end(), msr) != list.end();
}

// Every MSR number either range of the bitmap covers.
std::vector<std::uint32_t> covered_msrs() {
    std::vector<std::uint32_t> out;
    for (std::uint32_t m = 0; m <= 0x1fff; ++m) out.push_back(m);
    for (std::uint32_t m = 0xc0000000; m <= 0xc0001fff; ++m) out.push_back(m);
    return out;
}

}  // namespace

TEST_SUITE("access_bitmaps") {

TEST_CASE("I/O: every port exits except port 0x80, whatever the memory held before") {
    auto b = std::make_unique<IoBitmaps>();
    std::memset(b.get(), 0, sizeof(IoBitmaps));
    build_io_bitmaps(*b, passthrough_ports());
    REQUIRE(passthrough_ports().size() == 1);
    CHECK(passthrough_ports()[0] == 0x80);
    unsigned passing = 0;
    for (unsigned port = 0; port <= 0xffff; ++port) {
        bool exits = io_exits(*b, static_cast<std::uint16_t>(port));
        CHECK(exits == (port != 0x80));
        passing += !exits;
    }
    CHECK(passing == 1);
    CHECK(b->a[0x80 / 8] == 0xfe);
    CHECK(std::count(b->a, b->a + 4096, 0xff) == 4095);
    CHECK(std::count(b->b, b->b + 4096, 0xff) == 4096);
}

TEST_CASE("I/O: a custom list, at the edges of both bitmaps") {
    auto b = std::make_unique<IoBitmaps>();
    const std::uint16_t ports[] = {0x0, 0x7fff, 0x8000, 0xffff, 0x3f9};
    build_io_bitmaps(*b, ports);
    CHECK(b->a[0] == 0xfe);
    CHECK(b->a[0xfff] == 0x7f);
    CHECK(b->b[0] == 0xfe);
    CHECK(b->b[0xfff] == 0x7f);
    CHECK(b->a[0x3f9 / 8] == 0xfd);
    for (std::uint16_t p : ports) CHECK_FALSE(io_exits(*b, p));
    for (unsigned p : {0x1u, 0x7ffeu, 0x8001u, 0xfffeu, 0x3f8u, 0x3fau, 0x80u})
        CHECK(io_exits(*b, static_cast<std::uint16_t>(p)));
    // Rebuilding with an empty list denies everything again.
    build_io_bitmaps(*b, {});
    for (std::uint16_t p : ports) CHECK(io_exits(*b, p));
}

TEST_CASE("MSR bitmap: layout of the four quarters") {
    static_assert(offsetof(MsrBitmap, read_low) == 0);
    static_assert(offsetof(MsrBitmap, read_high) == 1024);
    static_assert(offsetof(MsrBitmap, write_low) == 2048);
    static_assert(offsetof(MsrBitmap, write_high) == 3072);
    auto b = std::make_unique<MsrBitmap>();
    const std::uint32_t msrs[] = {0x174, 0xc0000100, 0x1fff, 0xc0001fff};
    build_msr_bitmap(*b, msrs);
    CHECK(b->read_low[0x174 / 8] == static_cast<std::uint8_t>(~(1u << 4)));
    CHECK(b->write_low[0x174 / 8] == static_cast<std::uint8_t>(~(1u << 4)));
    CHECK(b->read_high[0x100 / 8] == 0xfe);
    CHECK(b->write_high[0x100 / 8] == 0xfe);
    CHECK(b->read_low[1023] == 0x7f);
    CHECK(b->write_high[1023] == 0x7f);
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(b.get());
    CHECK(std::count(bytes, bytes + 4096, 0xff) == 4096 - 8);
}

TEST_CASE("MSR bitmap: deny by default, the passthrough list in both directions, TSC_AUX only with RDTSCP") {
    auto without = passthrough_msrs(false);
    auto with = passthrough_msrs(true);
    CHECK(without.size() == 10);
    REQUIRE(with.size() == 11);
    CHECK(with.back() == 0xc0000103);
    CHECK_FALSE(listed(without, 0xc0000103));
    CHECK(std::set<std::uint32_t>(with.begin(), with.end()) ==
          std::set<std::uint32_t>{0x174, 0x175, 0x176, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000100,
                                  0xc0000101, 0xc0000102, 0xc0000103});
    for (bool rdtscp : {false, true}) {
        CAPTURE(rdtscp);
        auto list = passthrough_msrs(rdtscp);
        auto b = std::make_unique<MsrBitmap>();
        std::memset(b.get(), 0, sizeof(MsrBitmap));
        build_msr_bitmap(*b, list);
        std::size_t passing = 0;
        for (std::uint32_t msr : covered_msrs()) {
            bool pass = listed(list, msr);
            if (msr_read_exits(*b, msr) == pass || msr_write_exits(*b, msr) == pass) FAIL_CHECK("msr " << msr);
            passing += pass;
        }
        CHECK(passing == list.size());
    }
}

TEST_CASE("MSR bitmap: what tandem emulates or must guard always exits") {
    auto b = std::make_unique<MsrBitmap>();
    build_msr_bitmap(*b, passthrough_msrs(true));
    // TSC, APIC base, FEATURE_CONTROL, SPEC_CTRL, PRED_CMD, BIOS_SIGN_ID, MISC_ENABLE, PAT, EFER,
    // VMX capability MSRs, x2APIC registers, DEBUGCTL, and 0x177 right after the SYSENTER MSRs.
    for (std::uint32_t msr : {0x10u, 0x1bu, 0x3au, 0x48u, 0x49u, 0x8bu, 0x1a0u, 0x277u, 0xc0000080u, 0x480u, 0x48du,
                              0x802u, 0x830u, 0x1d9u, 0x177u}) {
        CAPTURE(msr);
        CHECK(msr_read_exits(*b, msr));
        CHECK(msr_write_exits(*b, msr));
    }
}

TEST_CASE("MSR bitmap: MSRs outside both ranges always exit, even when listed") {
    auto b = std::make_unique<MsrBitmap>();
    const std::uint32_t outside[] = {0x2000, 0x40000000, 0x4b564d00, 0xbfffffff, 0xc0002000, 0xc0010000, 0xffffffff};
    build_msr_bitmap(*b, outside);
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(b.get());
    CHECK(std::count(bytes, bytes + 4096, 0xff) == 4096);  // listing them changed nothing
    for (std::uint32_t msr : outside) {
        CAPTURE(msr);
        CHECK(msr_read_exits(*b, msr));
        CHECK(msr_write_exits(*b, msr));
    }
    // In particular 0x2000 and 0xc0002000 must not alias MSR 0 and 0xc0000000.
    const std::uint32_t low_ends[] = {0x0, 0xc0000000};
    build_msr_bitmap(*b, low_ends);
    CHECK_FALSE(msr_read_exits(*b, 0x0));
    CHECK_FALSE(msr_read_exits(*b, 0xc0000000));
    CHECK(msr_read_exits(*b, 0x2000));
    CHECK(msr_read_exits(*b, 0xc0002000));
}

}  // TEST_SUITE
