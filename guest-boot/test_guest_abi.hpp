// The contract between tandem and its bare-metal test guests (tests/guests): where tandem puts
// boot data in guest-physical memory, what the registers hold at entry, and the hypercalls.
// Included by both sides, so it uses nothing but fixed-width integers.
#pragma once

#include <stdint.h>  // NOLINT(modernize-deprecated-headers): test guests have no C++ library

namespace tandem::guest_abi {

// Guest-physical layout for test guests. tandem reserves [kReservedStart, kReservedEnd): an
// ELF segment that overlaps it is refused.
inline constexpr uint64_t kReservedStart = 0x1000;
inline constexpr uint64_t kGdt = 0x1000;          // null, code32 (0x08), code64 (0x10), data (0x18)
inline constexpr uint64_t kCommandLine = 0x2000;  // NUL-terminated, at most kCommandLineMax bytes
inline constexpr uint64_t kCommandLineMax = 0x1000;
inline constexpr uint64_t kPageTables = 0x3000;   // 64-bit entry: PML4, PDPT, 4 PDs (first 4 GiB)
inline constexpr uint64_t kPageTablesEnd = 0x9000;
inline constexpr uint64_t kInitialStackTop = 0x10000;
inline constexpr uint64_t kReservedEnd = 0x10000;
inline constexpr uint64_t kRealModeLoad = 0x10000;  // real-mode guests: one 64 KiB segment here

inline constexpr uint16_t kSelectorCode32 = 0x08;
inline constexpr uint16_t kSelectorCode64 = 0x10;
inline constexpr uint16_t kSelectorData = 0x18;
inline constexpr uint16_t kSelectorTss = 0x20;

// At entry (protected and long mode): RDI/EDI = kCommandLine, RSI/ESI = guest RAM size in bytes
// (ESI saturates at 4 GiB - 1), RSP/ESP = kInitialStackTop, interrupts off, EFLAGS = 0x2.
// Real mode: CS = DS = ES = SS = load address >> 4, IP = entry offset, SP = 0xfff0.

// The virtio-net device (virtio-mmio, version 2) tandem gives guests that have a network:
// registers here, outside guest RAM.
inline constexpr uint64_t kVirtioNetMmio = 0xd0000000;
inline constexpr uint64_t kVirtioNetMmioSize = 0x200;

// Hypercalls: VMCALL with the function in EAX and arguments in RBX, RCX, RDX; result in RAX.
// Only CPL 0 may call; from user mode VMCALL raises #UD in the guest.
inline constexpr uint32_t kHypercallPrint = 0x54440001;  // RBX = guest-physical address, RCX = length (<= 4096)
inline constexpr uint32_t kHypercallExit = 0x54440002;   // RBX = exit code; does not return
inline constexpr uint32_t kHypercallClock = 0x54440003;  // RAX = guest TSC, RBX = TSC frequency in kHz
inline constexpr uint64_t kHypercallPrintMax = 4096;
// Results in RAX: 0 success, otherwise one of these.
inline constexpr uint64_t kHypercallBadAddress = ~0ull - 1;
inline constexpr uint64_t kHypercallUnknown = ~0ull;

// CPUID leaves of the hypervisor range (0x40000000: max leaf and signature).
inline constexpr uint32_t kCpuidHypervisorBase = 0x40000000;
inline constexpr uint32_t kCpuidTimingLeaf = 0x40000010;  // EAX = TSC kHz, EBX = APIC bus kHz
// "TandemHyperV" in EBX, ECX, EDX, as the signature other hypervisors use in this leaf.
inline constexpr uint32_t kSignatureEbx = 0x646e6154;  // "Tand"
inline constexpr uint32_t kSignatureEcx = 0x79486d65;  // "emHy"
inline constexpr uint32_t kSignatureEdx = 0x56726570;  // "perV"

}  // namespace tandem::guest_abi
