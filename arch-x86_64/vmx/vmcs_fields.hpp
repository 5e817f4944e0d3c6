// VMCS field encodings, computed from their (width, kind, index) as the SDM defines them rather
// than written as magic numbers (Intel SDM Vol. 3C §25.11.2, Table 25-21; the fields themselves
// are listed in Vol. 3D Appendix B). Each encoding: bit 0 access type (full/high), bits 9:1
// index, bits 11:10 kind, bits 14:13 width.
#pragma once

#include <cstdint>

namespace tandem::x86 {

enum class VmcsWidth : std::uint32_t { bits16 = 0, bits64 = 1, bits32 = 2, natural = 3 };
enum class VmcsKind : std::uint32_t { control = 0, exit_info = 1, guest = 2, host = 3 };

enum class VmcsField : std::uint32_t {};

constexpr VmcsField vmcs_field(VmcsWidth width, VmcsKind kind, std::uint32_t index) {
    return static_cast<VmcsField>(static_cast<std::uint32_t>(width) << 13 | static_cast<std::uint32_t>(kind) << 10 |
                                  index << 1);
}
constexpr std::uint32_t encoding(VmcsField f) { return static_cast<std::uint32_t>(f); }
constexpr VmcsWidth width_of(VmcsField f) { return static_cast<VmcsWidth>((encoding(f) >> 13) & 3); }

namespace vmcs {
using W = VmcsWidth;
using K = VmcsKind;

// 16-bit fields (Appendix B.1).
inline constexpr VmcsField vpid = vmcs_field(W::bits16, K::control, 0);
inline constexpr VmcsField guest_es_selector = vmcs_field(W::bits16, K::guest, 0);
inline constexpr VmcsField guest_cs_selector = vmcs_field(W::bits16, K::guest, 1);
inline constexpr VmcsField guest_ss_selector = vmcs_field(W::bits16, K::guest, 2);
inline constexpr VmcsField guest_ds_selector = vmcs_field(W::bits16, K::guest, 3);
inline constexpr VmcsField guest_fs_selector = vmcs_field(W::bits16, K::guest, 4);
inline constexpr VmcsField guest_gs_selector = vmcs_field(W::bits16, K::guest, 5);
inline constexpr VmcsField guest_ldtr_selector = vmcs_field(W::bits16, K::guest, 6);
inline constexpr VmcsField guest_tr_selector = vmcs_field(W::bits16, K::guest, 7);
inline constexpr VmcsField guest_pml_index = vmcs_field(W::bits16, K::guest, 9);
inline constexpr VmcsField host_es_selector = vmcs_field(W::bits16, K::host, 0);
inline constexpr VmcsField host_cs_selector = vmcs_field(W::bits16, K::host, 1);
inline constexpr VmcsField host_ss_selector = vmcs_field(W::bits16, K::host, 2);
inline constexpr VmcsField host_ds_selector = vmcs_field(W::bits16, K::host, 3);
inline constexpr VmcsField host_fs_selector = vmcs_field(W::bits16, K::host, 4);
inline constexpr VmcsField host_gs_selector = vmcs_field(W::bits16, K::host, 5);
inline constexpr VmcsField host_tr_selector = vmcs_field(W::bits16, K::host, 6);

// 64-bit fields (Appendix B.2).
inline constexpr VmcsField io_bitmap_a = vmcs_field(W::bits64, K::control, 0);
inline constexpr VmcsField io_bitmap_b = vmcs_field(W::bits64, K::control, 1);
inline constexpr VmcsField msr_bitmap = vmcs_field(W::bits64, K::control, 2);
inline constexpr VmcsField exit_msr_store_address = vmcs_field(W::bits64, K::control, 3);
inline constexpr VmcsField exit_msr_load_address = vmcs_field(W::bits64, K::control, 4);
inline constexpr VmcsField entry_msr_load_address = vmcs_field(W::bits64, K::control, 5);
inline constexpr VmcsField pml_address = vmcs_field(W::bits64, K::control, 7);
inline constexpr VmcsField tsc_offset = vmcs_field(W::bits64, K::control, 8);
inline constexpr VmcsField ept_pointer = vmcs_field(W::bits64, K::control, 13);
inline constexpr VmcsField guest_physical_address = vmcs_field(W::bits64, K::exit_info, 0);
inline constexpr VmcsField vmcs_link_pointer = vmcs_field(W::bits64, K::guest, 0);
inline constexpr VmcsField guest_debugctl = vmcs_field(W::bits64, K::guest, 1);
inline constexpr VmcsField guest_pat = vmcs_field(W::bits64, K::guest, 2);
inline constexpr VmcsField guest_efer = vmcs_field(W::bits64, K::guest, 3);
inline constexpr VmcsField guest_pdpte0 = vmcs_field(W::bits64, K::guest, 5);
inline constexpr VmcsField guest_pdpte1 = vmcs_field(W::bits64, K::guest, 6);
inline constexpr VmcsField guest_pdpte2 = vmcs_field(W::bits64, K::guest, 7);
inline constexpr VmcsField guest_pdpte3 = vmcs_field(W::bits64, K::guest, 8);
inline constexpr VmcsField host_pat = vmcs_field(W::bits64, K::host, 0);
inline constexpr VmcsField host_efer = vmcs_field(W::bits64, K::host, 1);

// 32-bit fields (Appendix B.3).
inline constexpr VmcsField pin_based_controls = vmcs_field(W::bits32, K::control, 0);
inline constexpr VmcsField primary_controls = vmcs_field(W::bits32, K::control, 1);
inline constexpr VmcsField exception_bitmap = vmcs_field(W::bits32, K::control, 2);
inline constexpr VmcsField page_fault_error_mask = vmcs_field(W::bits32, K::control, 3);
inline constexpr VmcsField page_fault_error_match = vmcs_field(W::bits32, K::control, 4);
inline constexpr VmcsField cr3_target_count = vmcs_field(W::bits32, K::control, 5);
inline constexpr VmcsField exit_controls = vmcs_field(W::bits32, K::control, 6);
inline constexpr VmcsField exit_msr_store_count = vmcs_field(W::bits32, K::control, 7);
inline constexpr VmcsField exit_msr_load_count = vmcs_field(W::bits32, K::control, 8);
inline constexpr VmcsField entry_controls = vmcs_field(W::bits32, K::control, 9);
inline constexpr VmcsField entry_msr_load_count = vmcs_field(W::bits32, K::control, 10);
inline constexpr VmcsField entry_interruption_info = vmcs_field(W::bits32, K::control, 11);
inline constexpr VmcsField entry_exception_error_code = vmcs_field(W::bits32, K::control, 12);
inline constexpr VmcsField entry_instruction_length = vmcs_field(W::bits32, K::control, 13);
inline constexpr VmcsField tpr_threshold = vmcs_field(W::bits32, K::control, 14);
inline constexpr VmcsField secondary_controls = vmcs_field(W::bits32, K::control, 15);
inline constexpr VmcsField vm_instruction_error = vmcs_field(W::bits32, K::exit_info, 0);
inline constexpr VmcsField exit_reason = vmcs_field(W::bits32, K::exit_info, 1);
inline constexpr VmcsField exit_interruption_info = vmcs_field(W::bits32, K::exit_info, 2);
inline constexpr VmcsField exit_interruption_error_code = vmcs_field(W::bits32, K::exit_info, 3);
inline constexpr VmcsField idt_vectoring_info = vmcs_field(W::bits32, K::exit_info, 4);
inline constexpr VmcsField idt_vectoring_error_code = vmcs_field(W::bits32, K::exit_info, 5);
inline constexpr VmcsField exit_instruction_length = vmcs_field(W::bits32, K::exit_info, 6);
inline constexpr VmcsField exit_instruction_info = vmcs_field(W::bits32, K::exit_info, 7);
inline constexpr VmcsField guest_es_limit = vmcs_field(W::bits32, K::guest, 0);
inline constexpr VmcsField guest_cs_limit = vmcs_field(W::bits32, K::guest, 1);
inline constexpr VmcsField guest_ss_limit = vmcs_field(W::bits32, K::guest, 2);
inline constexpr VmcsField guest_ds_limit = vmcs_field(W::bits32, K::guest, 3);
inline constexpr VmcsField guest_fs_limit = vmcs_field(W::bits32, K::guest, 4);
inline constexpr VmcsField guest_gs_limit = vmcs_field(W::bits32, K::guest, 5);
inline constexpr VmcsField guest_ldtr_limit = vmcs_field(W::bits32, K::guest, 6);
inline constexpr VmcsField guest_tr_limit = vmcs_field(W::bits32, K::guest, 7);
inline constexpr VmcsField guest_gdtr_limit = vmcs_field(W::bits32, K::guest, 8);
inline constexpr VmcsField guest_idtr_limit = vmcs_field(W::bits32, K::guest, 9);
inline constexpr VmcsField guest_es_access = vmcs_field(W::bits32, K::guest, 10);
inline constexpr VmcsField guest_cs_access = vmcs_field(W::bits32, K::guest, 11);
inline constexpr VmcsField guest_ss_access = vmcs_field(W::bits32, K::guest, 12);
inline constexpr VmcsField guest_ds_access = vmcs_field(W::bits32, K::guest, 13);
inline constexpr VmcsField guest_fs_access = vmcs_field(W::bits32, K::guest, 14);
inline constexpr VmcsField guest_gs_access = vmcs_field(W::bits32, K::guest, 15);
inline constexpr VmcsField guest_ldtr_access = vmcs_field(W::bits32, K::guest, 16);
inline constexpr VmcsField guest_tr_access = vmcs_field(W::bits32, K::guest, 17);
inline constexpr VmcsField guest_interruptibility = vmcs_field(W::bits32, K::guest, 18);
inline constexpr VmcsField guest_activity_state = vmcs_field(W::bits32, K::guest, 19);
inline constexpr VmcsField guest_sysenter_cs = vmcs_field(W::bits32, K::guest, 21);
inline constexpr VmcsField preemption_timer_value = vmcs_field(W::bits32, K::guest, 23);
inline constexpr VmcsField host_sysenter_cs = vmcs_field(W::bits32, K::host, 0);

// Natural-width fields (Appendix B.4).
inline constexpr VmcsField cr0_guest_host_mask = vmcs_field(W::natural, K::control, 0);
inline constexpr VmcsField cr4_guest_host_mask = vmcs_field(W::natural, K::control, 1);
inline constexpr VmcsField cr0_read_shadow = vmcs_field(W::natural, K::control, 2);
inline constexpr VmcsField cr4_read_shadow = vmcs_field(W::natural, K::control, 3);
inline constexpr VmcsField exit_qualification = vmcs_field(W::natural, K::exit_info, 0);
inline constexpr VmcsField guest_linear_address = vmcs_field(W::natural, K::exit_info, 5);
inline constexpr VmcsField guest_cr0 = vmcs_field(W::natural, K::guest, 0);
inline constexpr VmcsField guest_cr3 = vmcs_field(W::natural, K::guest, 1);
inline constexpr VmcsField guest_cr4 = vmcs_field(W::natural, K::guest, 2);
inline constexpr VmcsField guest_es_base = vmcs_field(W::natural, K::guest, 3);
inline constexpr VmcsField guest_cs_base = vmcs_field(W::natural, K::guest, 4);
inline constexpr VmcsField guest_ss_base = vmcs_field(W::natural, K::guest, 5);
inline constexpr VmcsField guest_ds_base = vmcs_field(W::natural, K::guest, 6);
inline constexpr VmcsField guest_fs_base = vmcs_field(W::natural, K::guest, 7);
inline constexpr VmcsField guest_gs_base = vmcs_field(W::natural, K::guest, 8);
inline constexpr VmcsField guest_ldtr_base = vmcs_field(W::natural, K::guest, 9);
inline constexpr VmcsField guest_tr_base = vmcs_field(W::natural, K::guest, 10);
inline constexpr VmcsField guest_gdtr_base = vmcs_field(W::natural, K::guest, 11);
inline constexpr VmcsField guest_idtr_base = vmcs_field(W::natural, K::guest, 12);
inline constexpr VmcsField guest_dr7 = vmcs_field(W::natural, K::guest, 13);
inline constexpr VmcsField guest_rsp = vmcs_field(W::natural, K::guest, 14);
inline constexpr VmcsField guest_rip = vmcs_field(W::natural, K::guest, 15);
inline constexpr VmcsField guest_rflags = vmcs_field(W::natural, K::guest, 16);
inline constexpr VmcsField guest_pending_debug_exceptions = vmcs_field(W::natural, K::guest, 17);
inline constexpr VmcsField guest_sysenter_esp = vmcs_field(W::natural, K::guest, 18);
inline constexpr VmcsField guest_sysenter_eip = vmcs_field(W::natural, K::guest, 19);
inline constexpr VmcsField host_cr0 = vmcs_field(W::natural, K::host, 0);
inline constexpr VmcsField host_cr3 = vmcs_field(W::natural, K::host, 1);
inline constexpr VmcsField host_cr4 = vmcs_field(W::natural, K::host, 2);
inline constexpr VmcsField host_fs_base = vmcs_field(W::natural, K::host, 3);
inline constexpr VmcsField host_gs_base = vmcs_field(W::natural, K::host, 4);
inline constexpr VmcsField host_tr_base = vmcs_field(W::natural, K::host, 5);
inline constexpr VmcsField host_gdtr_base = vmcs_field(W::natural, K::host, 6);
inline constexpr VmcsField host_idtr_base = vmcs_field(W::natural, K::host, 7);
inline constexpr VmcsField host_sysenter_esp = vmcs_field(W::natural, K::host, 8);
inline constexpr VmcsField host_sysenter_eip = vmcs_field(W::natural, K::host, 9);
inline constexpr VmcsField host_rsp = vmcs_field(W::natural, K::host, 10);
inline constexpr VmcsField host_rip = vmcs_field(W::natural, K::host, 11);
}  // namespace vmcs

// Spot checks against the encodings printed in SDM Vol. 3D Appendix B.
static_assert(encoding(vmcs::vpid) == 0x0000);
static_assert(encoding(vmcs::guest_pml_index) == 0x0812);
static_assert(encoding(vmcs::host_tr_selector) == 0x0c0c);
static_assert(encoding(vmcs::pml_address) == 0x200e);
static_assert(encoding(vmcs::ept_pointer) == 0x201a);
static_assert(encoding(vmcs::guest_physical_address) == 0x2400);
static_assert(encoding(vmcs::vmcs_link_pointer) == 0x2800);
static_assert(encoding(vmcs::guest_efer) == 0x2806);
static_assert(encoding(vmcs::host_efer) == 0x2c02);
static_assert(encoding(vmcs::secondary_controls) == 0x401e);
static_assert(encoding(vmcs::vm_instruction_error) == 0x4400);
static_assert(encoding(vmcs::exit_reason) == 0x4402);
static_assert(encoding(vmcs::exit_instruction_info) == 0x440e);
static_assert(encoding(vmcs::guest_tr_access) == 0x4822);
static_assert(encoding(vmcs::preemption_timer_value) == 0x482e);
static_assert(encoding(vmcs::host_sysenter_cs) == 0x4c00);
static_assert(encoding(vmcs::cr4_read_shadow) == 0x6006);
static_assert(encoding(vmcs::exit_qualification) == 0x6400);
static_assert(encoding(vmcs::guest_linear_address) == 0x640a);
static_assert(encoding(vmcs::guest_rip) == 0x681e);
static_assert(encoding(vmcs::guest_sysenter_eip) == 0x6826);
static_assert(encoding(vmcs::host_rip) == 0x6c16);

}  // namespace tandem::x86
