// Device-memory accesses through the vCPU (arch-x86_64/vmx/vcpu_mmio.cpp): the instruction at RIP
// is fetched through the guest's paging, decoded, carried out on the device the bus names, and RIP
// moves past it. And three things the vcpu_exits fuzzer found (tests/fuzz/fuzz_vcpu_exits.cpp):
// an access running past a device's end reached the device; an exception injected in real mode
// carried an error code, which VM entry refuses; RIP past 4 GiB in 32-bit code set bits 63:32,
// which VM entry refuses too.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "hypervisor/devices/mmio_bus.hpp"
#include "vmx_fake_vcpu.hpp"

using namespace tandem;
using namespace tandem::x86;
using test::VcpuRig;

namespace {

constexpr std::uint64_t kBase = 0xd000'0000, kSize = 0x100;

// Records each access; reads answer a fixed pattern.
class RecordingDevice final : public MmioDevice {
public:
    struct Access {
        bool write;
        std::uint64_t offset;
        unsigned size;
        std::uint64_t value;
    };
    std::uint64_t mmio_read(std::uint64_t offset, unsigned size) override {
        std::uint64_t v = 0x8877'6655'4433'2211ull & (size == 8 ? ~0ull : (1ull << (8 * size)) - 1);
        accesses.push_back({false, offset, size, v});
        return v;
    }
    void mmio_write(std::uint64_t offset, unsigned size, std::uint64_t value) override {
        accesses.push_back({true, offset, size, value});
    }
    std::vector<Access> accesses;
};

struct MmioRig : VcpuRig {
    MmioBus bus;
    RecordingDevice device;
    explicit MmioRig(guest_boot::EntryMode mode = guest_boot::EntryMode::protected32) : VcpuRig(mode) {
        REQUIRE(bus.attach(kBase, kSize, device).ok());
        vcpu.set_mmio_bus(&bus);
    }
    // The guest's instruction at RIP (paging off: RIP is the address) touches gpa.
    void access(const std::vector<std::uint8_t>& code, std::uint64_t gpa, bool write) {
        put_bytes(rip(), code);
        vmcs.set(vmcs::guest_physical_address, gpa);
        exit(ExitReason::ept_violation, write ? 2 : 1);
    }
};

}  // namespace

TEST_SUITE("vcpu_mmio") {

TEST_CASE("a load and a store on the device the bus names; RIP moves by the decoded length") {
    MmioRig rig;
    rig.reg(Gpr::rax) = 0xffff'ffff'ffff'ffffull;
    rig.access({0x8b, 0x05, 0x10, 0x00, 0x00, 0xd0}, kBase + 0x10, false);  // mov 0xd0000010, %eax
    REQUIRE(rig.vcpu.running());
    CHECK(rig.reg(Gpr::rax) == 0x4433'2211u);  // a 32-bit load clears the upper half
    CHECK(rig.rip() == VcpuRig::kRip + 6);
    rig.reg(Gpr::rcx) = 0xabcd;
    rig.access({0x66, 0x89, 0x0d, 0xfe, 0x00, 0x00, 0xd0}, kBase + 0xfe, true);  // mov %cx, 0xd00000fe
    REQUIRE(rig.vcpu.running());
    CHECK(rig.rip() == VcpuRig::kRip + 13);
    REQUIRE(rig.device.accesses.size() == 2);
    CHECK(rig.device.accesses[0].offset == 0x10);
    CHECK(rig.device.accesses[0].size == 4);
    CHECK(rig.device.accesses[1].write);
    CHECK(rig.device.accesses[1].offset == 0xfe);  // the last two bytes of the device: inside
    CHECK(rig.device.accesses[1].size == 2);
    CHECK(rig.device.accesses[1].value == 0xabcd);
    CHECK(rig.vcpu.stats().mmio_accesses == 2);
}

TEST_CASE("an access that starts inside a device and runs past its end stops the guest; the device sees nothing") {
    MmioRig rig;
    rig.access({0x8b, 0x05, 0xfe, 0x00, 0x00, 0xd0}, kBase + 0xfe, false);  // 4 bytes at the last 2
    CHECK_FALSE(rig.vcpu.running());
    CHECK(rig.device.accesses.empty());
    CHECK(rig.rip() == VcpuRig::kRip);
    CHECK(rig.text().find("a 4-byte access at 0xd00000fe runs past the end of a device's registers") != std::string::npos);
    CHECK(rig.vcpu.end().reason == std::string("MMIO access tandem does not emulate"));
}

TEST_CASE("32-bit code: RIP wraps at 4 GiB, in exits and in device accesses; 64-bit code: it does not") {
    {
        VcpuRig rig;
        rig.vmcs.set(vmcs::guest_rip, 0xffff'fffeull);
        rig.exit(ExitReason::cpuid, 0, 3);
        CHECK(rig.rip() == 0x1);
    }
    {
        MmioRig rig;
        rig.vmcs.set(vmcs::guest_cs_base, 0x1004);  // CS:EIP is linear 0x1000 (wrapped at 4 GiB)
        rig.vmcs.set(vmcs::guest_rip, 0xffff'fffcull);
        rig.put_bytes(0x1000, {0x8b, 0x05, 0x10, 0x00, 0x00, 0xd0});
        rig.vmcs.set(vmcs::guest_physical_address, kBase + 0x10);
        rig.exit(ExitReason::ept_violation, 1);
        REQUIRE(rig.vcpu.running());
        CHECK(rig.rip() == 0x2);
    }
    {
        VcpuRig rig(guest_boot::EntryMode::long64);
        rig.vmcs.set(vmcs::guest_rip, 0xffff'fffeull);
        rig.exit(ExitReason::cpuid, 0, 3);
        CHECK(rig.rip() == 0x1'0000'0001ull);
    }
}

TEST_CASE("an exception injected in real mode carries no error code; in protected mode #GP(0) does") {
    VcpuRig real(guest_boot::EntryMode::real16);
    real.reg(Gpr::rcx) = 0x1234;  // an MSR tandem does not provide
    real.exit(ExitReason::rdmsr, 0, 2);
    CHECK(real.injected() == 0x8000'030dull);  // #GP, hardware exception, no error code
    VcpuRig prot;
    prot.reg(Gpr::rcx) = 0x1234;
    prot.exit(ExitReason::rdmsr, 0, 2);
    CHECK(prot.injected() == test::kInjectGp);
}

}  // TEST_SUITE
