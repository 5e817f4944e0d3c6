// Device-memory accesses: the instruction at RIP is decoded (mmio_instruction.hpp), the access
// carried out on the device model, and RIP moved past it.
#include "arch-x86_64/vmx/guest_page_walk.hpp"
#include "arch-x86_64/vmx/guest_rip.hpp"
#include "arch-x86_64/vmx/mmio_instruction.hpp"
#include "arch-x86_64/vmx/vcpu.hpp"

namespace tandem::x86 {
namespace {
constexpr std::uint64_t kEferLma = 1ull << 10;
constexpr unsigned kCsLongMode = 13, kCsDefault32 = 14;  // access-rights bits L and D/B
}  // namespace

std::size_t Vcpu::fetch_instruction(std::uint8_t (&bytes)[15]) const {
    std::uint64_t efer = vmcs_.read(vmcs::guest_efer);
    std::uint64_t rip = vmcs_.read(vmcs::guest_rip);
    std::uint64_t linear = (efer & kEferLma) ? rip : vmcs_.read(vmcs::guest_cs_base) + rip;
    GuestPagingState paging{vmcs_.read(vmcs::guest_cr0), vmcs_.read(vmcs::guest_cr3), vmcs_.read(vmcs::guest_cr4), efer};
    std::size_t got = 0;
    while (got < sizeof(bytes)) {
        // Page by page: the instruction may cross into a page mapped elsewhere.
        auto gpa = guest_linear_to_physical(*memory_, paging, linear + got);
        if (!gpa) break;
        std::size_t in_page = 4096 - (*gpa & 0xfff);
        std::size_t n = sizeof(bytes) - got < in_page ? sizeof(bytes) - got : in_page;
        if (!memory_->read(*gpa, {bytes + got, n})) break;
        got += n;
    }
    return got;
}

bool Vcpu::emulate_mmio(MmioDevice& device, std::uint64_t offset) {
    std::uint8_t bytes[15];
    std::size_t n = fetch_instruction(bytes);
    std::uint64_t cs_access = vmcs_.read(vmcs::guest_cs_access);
    bool long_mode = (vmcs_.read(vmcs::guest_efer) & kEferLma) && ((cs_access >> kCsLongMode) & 1);
    bool default_32 = long_mode || ((cs_access >> kCsDefault32) & 1);
    auto insn = decode_mmio_instruction({bytes, n}, long_mode, default_32);
    if (!insn) {
        print(console_, "vm: ");
        println(console_, "{}", insn.error());
        return false;
    }
    // The exit found the device by the first byte; the access's size comes from the instruction,
    // and all of it must lie inside that device (MmioBus::find's rule), or the model would be
    // handed registers past its end.
    std::uint64_t gpa = vmcs_.read(vmcs::guest_physical_address), whole_offset = 0;
    if (mmio_ == nullptr || mmio_->find(gpa, insn->size, whole_offset) != &device || whole_offset != offset) {
        println(console_, "vm: a {}-byte access at {} runs past the end of a device's registers", insn->size, hex(gpa));
        return false;
    }
    std::uint64_t rsp = vmcs_.read(vmcs::guest_rsp);
    if (insn->kind == MmioInstruction::Kind::store_register || insn->kind == MmioInstruction::Kind::store_immediate) {
        device.mmio_write(offset, insn->size, mmio_store_value(*insn, regs_, rsp));
    } else {
        mmio_complete_load(*insn, device.mmio_read(offset, insn->size), regs_, rsp);
        vmcs_.write(vmcs::guest_rsp, rsp);
    }
    ++stats_.mmio_accesses;
    complete_guest_instruction(vmcs_, insn->length);  // EPT violations leave the length field undefined
    return true;
}

}  // namespace tandem::x86
