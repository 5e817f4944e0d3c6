// Seeds for the guest-facing fuzzers, written field by field in each one's input layout
// (fuzz::Input, front to back, little-endian):
//   mmio_decode_walk  page tables of every paging mode and page size leading to real MMIO moves
//   vcpu_exits        short guest programs: device-memory moves, MSRs, CPUID, port I/O, hypercalls,
//                     CR writes, XSETBV, HLT
//   pc_platform       a guest programming the PIT, RTC, PIC, UART, IOAPIC and local APIC timer,
//                     with checkpoints
//   rsdp_scan         sound ACPI 1.0 and 2.0 RSDPs in the EBDA and the BIOS area, after broken ones
// Usage: fuzz_guest_seeds DIR, where DIR's last component names the fuzzer.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct Seed {
    std::vector<std::uint8_t> b;
    Seed& u8(unsigned v) {
        b.push_back(static_cast<std::uint8_t>(v));
        return *this;
    }
    Seed& u16(unsigned v) { return u8(v & 0xff).u8((v >> 8) & 0xff); }
    Seed& u32(std::uint32_t v) { return u16(v & 0xffff).u16(v >> 16); }
    Seed& u64(std::uint64_t v) { return u32(static_cast<std::uint32_t>(v)).u32(static_cast<std::uint32_t>(v >> 32)); }
    Seed& raw(std::initializer_list<unsigned> bytes) {
        for (unsigned x : bytes) u8(x);
        return *this;
    }
    Seed& raw(const std::vector<std::uint8_t>& bytes) {
        b.insert(b.end(), bytes.begin(), bytes.end());
        return *this;
    }
};

void write(const fs::path& dir, const std::string& name, const Seed& s) {
    std::ofstream out(dir / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(s.b.data()), static_cast<std::streamsize>(s.b.size()));
    if (!out) {
        std::fprintf(stderr, "fuzz_guest_seeds: cannot write %s\n", (dir / name).c_str());
        std::exit(1);
    }
}

// ---- mmio_decode_walk: u8 paging, u64 CR3, u64 linear, u16 where (x 16), guest RAM ----------------

struct Ram {
    std::vector<std::uint8_t> bytes = std::vector<std::uint8_t>(0x6000);
    void put64(std::size_t at, std::uint64_t v) {
        for (int i = 0; i < 8; ++i) bytes[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
    }
    void put32(std::size_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) bytes[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
    }
    void put(std::size_t at, std::initializer_list<unsigned> code) {
        for (unsigned c : code) bytes[at++] = static_cast<std::uint8_t>(c);
    }
};

void mmio_decode_walk(const fs::path& dir) {
    constexpr unsigned kOff = 0 << 2, k32 = 1 << 2, kPae = 2 << 2, k4 = 3 << 2, kPse = 1 << 4, kNxe = 1 << 5;
    constexpr std::uint64_t P = 1, RW = 2, PS = 0x80;
    // Real MMIO moves (Intel SDM Vol. 2B MOV, MOVZX), at gpa 0x5123 or wherever the walk leads.
    const std::vector<std::initializer_list<unsigned>> code = {
        {0x89, 0x08},                                // mov [rax], ecx
        {0x48, 0x8b, 0x43, 0x10},                    // mov rax, [rbx+0x10]
        {0x44, 0x8b, 0x0d, 0x34, 0x12, 0x00, 0x00},  // mov r9d, [rip+0x1234]
        {0x66, 0xc7, 0x06, 0x34, 0x12},              // mov word [rsi], 0x1234
        {0x48, 0xc7, 0x00, 0xff, 0xff, 0xff, 0xff},  // mov qword [rax], -1
        {0x0f, 0xb7, 0x44, 0x91, 0x10},              // movzx eax, word [rcx+rdx*4+0x10]
        {0x88, 0x27},                                // mov [rdi], ah
        {0x64, 0x8b, 0x04, 0x8d, 0x00, 0x10, 0x00, 0x00},  // mov eax, fs:[rcx*4+0x1000]
        {0x67, 0x66, 0x8b, 0x06, 0x34, 0x12},        // 16-bit addressing: mov ax/eax, [0x1234]
    };
    unsigned n = 0;
    for (const auto& c : code) {
        // 4-level paging, 4 KiB pages: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000 -> 0x5000.
        Ram r;
        r.put64(0x1000, 0x2000 | P | RW);
        r.put64(0x2000, 0x3000 | P | RW);
        r.put64(0x3000, 0x4000 | P | RW);
        r.put64(0x4000 + 8 * 5, 0x5000 | P | (1ull << 63));
        r.put(0x5123, c);
        write(dir, "4level_4k_" + std::to_string(n), Seed().u8(k4 | kNxe).u64(0x1000).u64(0x5123).u16(0).raw(r.bytes));
        // Paging off: the same bytes at the linear address itself.
        write(dir, "off_" + std::to_string(n), Seed().u8(kOff).u64(0).u64(0x5123).u16(0).raw(r.bytes));
        ++n;
    }
    {
        Ram r;  // 2 MiB page (PD entry with PS), then 1 GiB page (PDPT entry with PS)
        r.put64(0x1000, 0x2000 | P);
        r.put64(0x2000, 0x3000 | P);
        r.put64(0x3000, 0x0 | P | PS);
        r.put64(0x2000 + 8, 0x0 | P | PS);
        r.put(0x5123, {0x8b, 0x08});
        write(dir, "4level_2m", Seed().u8(k4).u64(0x1000).u64(0x5123).u16(0).raw(r.bytes));
        write(dir, "4level_1g", Seed().u8(k4).u64(0x1000).u64(0x4000'5123).u16(0).raw(r.bytes));
    }
    {
        Ram r;  // PAE: PDPT at 0x1020 (32-byte aligned), PD 0x2000, PT 0x3000; and a 2 MiB page
        r.put64(0x1020, 0x2000 | P);
        r.put64(0x2000, 0x3000 | P | RW);
        r.put64(0x3000 + 8 * 5, 0x5000 | P);
        r.put64(0x2000 + 8, 0x0 | P | PS);
        r.put(0x5123, {0xc7, 0x00, 0x78, 0x56, 0x34, 0x12});
        write(dir, "pae_4k", Seed().u8(kPae).u64(0x1020).u64(0x5123).u16(0).raw(r.bytes));
        write(dir, "pae_2m", Seed().u8(kPae).u64(0x1020).u64(0x20'5123).u16(0).raw(r.bytes));
    }
    {
        Ram r;  // 32-bit paging: PD 0x1000, PT 0x2000; and a 4 MiB page with PSE
        r.put32(0x1000, 0x2000 | P);
        r.put32(0x2000 + 4 * 5, 0x5000 | P);
        r.put32(0x1004, 0x0 | P | PS);
        r.put(0x5123, {0x0f, 0xb6, 0x01});
        write(dir, "32bit_4k", Seed().u8(k32).u64(0x1000).u64(0x5123).u16(0).raw(r.bytes));
        write(dir, "32bit_4m", Seed().u8(k32 | kPse).u64(0x1000).u64(0x40'5123).u16(0).raw(r.bytes));
    }
}

// ---- vcpu_exits: u8 entry mode, then operations (fuzz_vcpu_exits.cpp) ---------------------------

struct Program : Seed {
    // op 0: the guest stores `bytes` at gpa (even).
    Program& store(unsigned gpa, std::initializer_list<unsigned> bytes) {
        u8(0).u16(gpa / 2).u8(static_cast<unsigned>(bytes.size()));
        raw(bytes);
        return *this;
    }
    Program& reg(unsigned r, std::uint64_t v) {
        u8(1).u8(r).u64(v);
        return *this;
    }
    Program& msr(unsigned index) {  // RCX from the fuzzer's table of interesting MSRs
        u8(1).u8(16).u64(0).u8(index);
        return *this;
    }
    Program& hypercall(unsigned which, unsigned rbx, unsigned rcx) {
        u8(2).u8(which).u8(1).u16(rbx).u8(1).u16(rcx);
        return *this;
    }
    Program& error_code(unsigned code) {  // read after an exception exit's fields
        u16(code);
        return *this;
    }
    Program& time(unsigned ticks) {
        u8(4).u8(1).u16(ticks);
        return *this;
    }
    Program& guest(unsigned what, std::uint64_t value) {  // op 3: rip, cr3, rflags, blocking, cs, cs base
        u8(3).u64(value).u8(what);
        return *this;
    }
    // op 6: an exit with reason index `r` in the fuzzer's table, then its fields, no vectoring,
    // no entry failure.
    Program& exit(unsigned r, std::initializer_list<unsigned> fields = {}) {
        u8(6).u8(r);
        raw(fields);
        u8(1).u8(1);
        return *this;
    }
};

enum : unsigned { kCpuid, kRdmsr, kWrmsr, kVmcall, kCr, kXsetbv, kIo, kEpt, kHlt, kException, kTimer };

void vcpu_exits(const fs::path& dir) {
    // 32-bit protected mode, paging off, RIP 0x1000: mov eax, [0xfec00010] (IOAPIC window) after
    // selecting the version register; then the local APIC and the probe device.
    Program ioapic;
    ioapic.u8(1);
    ioapic
        .store(0x1000, {0xc7, 0x05, 0x00, 0x00, 0xc0, 0xfe, 0x01, 0x00, 0x00, 0x00})  // mov dword [0xfec00000], 1
        .exit(kEpt, {2, 0x00, 0x00, 0x02, 0x00})
        .guest(0, 0x1000)
        .store(0x1000, {0x8b, 0x05, 0x10, 0x00, 0xc0, 0xfe})  // mov eax, [0xfec00010]
        .exit(kEpt, {2, 0x10, 0x00, 0x01, 0x00})
        .guest(0, 0x1000)
        .store(0x1000, {0x89, 0x0d, 0xf0, 0x00, 0xe0, 0xfe})  // mov [0xfee000f0], ecx (SVR)
        .reg(1, 0x1ff)
        .exit(kEpt, {1, 0xf0, 0x00, 0x02, 0x00})
        .guest(0, 0x1000)
        .store(0x1000, {0x66, 0x89, 0x0d, 0xfe, 0x00, 0x00, 0xd0})  // mov [0xd00000fe], cx
        .exit(kEpt, {0, 0xfe, 0x00, 0x02, 0x00});
    write(dir, "mmio_protected32", ioapic);

    // 64-bit mode: identity-mapped 2 MiB page at CR3 0x3000, mov rax, [rbx] at the probe.
    Program longmode;
    longmode.u8(2);
    longmode
        .store(0x3000, {0x03, 0x40, 0, 0, 0, 0, 0, 0})  // PML4[0] -> 0x4000
        .store(0x4000, {0x03, 0x50, 0, 0, 0, 0, 0, 0})  // PDPT[0] -> 0x5000
        .store(0x5000, {0x83, 0x00, 0, 0, 0, 0, 0, 0})  // PD[0]: 2 MiB page at 0
        .store(0x1000, {0x48, 0x8b, 0x03})              // mov rax, [rbx]
        .exit(kEpt, {0, 0x08, 0x00, 0x01, 0x00})
        .store(0x1003, {0xc6, 0x40, 0x10, 0x5a})  // mov byte [rax+0x10], 0x5a
        .exit(kEpt, {0, 0x10, 0x00, 0x02, 0x00});
    write(dir, "mmio_long64", longmode);

    Program msrs;
    msrs.u8(2);
    msrs
        .msr(2)  // IA32_APIC_BASE
        .exit(kRdmsr)
        .reg(0, 0xfee00c00)
        .reg(2, 0)
        .exit(kWrmsr)  // x2APIC on
        .msr(11)       // SVR
        .reg(0, 0x1ff)
        .exit(kWrmsr)
        .msr(7)  // IA32_TSC_DEADLINE
        .reg(0, 0x10000)
        .exit(kWrmsr)
        .msr(6)  // PAT
        .exit(kRdmsr)
        .msr(18)  // EFER
        .reg(0, 0xd01)
        .exit(kWrmsr)
        .reg(0, 1)
        .exit(kCpuid)
        .reg(0, 0x40000010)
        .exit(kCpuid)
        .guest(2, 0x202)
        .time(60000)
        .exit(kTimer)
        .exit(kHlt);
    write(dir, "msrs_cpuid_timer", msrs);

    Program io;
    io.u8(0);
    io
        .reg(0, 'h')
        .exit(kIo, {13 /* port 0x3f8 */, 0, 0})
        .reg(0, 'i')
        .exit(kIo, {13, 0, 0})
        .reg(0, '\n')
        .exit(kIo, {13, 0, 0})
        .reg(0, 0x34)
        .exit(kIo, {9, 0, 0})  // PIT control word
        .exit(kIo, {11, 0, 0x08})  // IN from port 0x70
        .store(0x2000, {'h', 'e', 'l', 'l', 'o'})
        .hypercall(0, 0x2000, 5)
        .exit(kVmcall)
        .hypercall(1, 0, 0)
        .exit(kVmcall);
    write(dir, "io_hypercalls_real16", io);

    Program cr;
    cr.u8(1);
    cr
        .reg(0, 0x80000031)  // PG with PE, NE, ET
        .exit(kCr, {0, 0, 0})
        .reg(0, 0x20)
        .exit(kCr, {0, 2, 0})  // MOV CR4 (PAE)
        .reg(0, 0x07)
        .reg(2, 0)
        .reg(1, 0)
        .exit(kXsetbv)
        .exit(kCr, {2, 0})         // CLTS
        .exit(kCr, {3, 0, 0x0f, 0})  // LMSW
        .exit(kException, {17, 2, 0})  // #AC, a hardware exception with an error code
        .error_code(0)
        .exit(kHlt);
    write(dir, "cr_xsetbv_protected32", cr);
}

// ---- pc_platform: u32 TSC, then steps (fuzz_pc_platform.cpp) -------------------------------------

struct Steps : Seed {
    // op, port index (< 28: fuzz_pc_platform.cpp's table), size index, value, MMIO offset, MSR
    // index, time.
    Steps& step(unsigned op, unsigned port, unsigned size, std::uint64_t value, unsigned offset = 0,
                unsigned msr = 0, unsigned time = 0) {
        u8(op).u8(port).u8(size);
        if (value < 256) {
            u8(1).u8(static_cast<unsigned>(value));
        } else {
            u8(0).u64(value);
        }
        u16(offset).u8(msr).u8(1).u16(time);
        return *this;
    }
};

void pc_platform(const fs::path& dir) {
    enum : unsigned { kOut, kIn, kMmioWrite, kMmioRead, kMsrWrite, kMsrRead, kTime, kAck, kCheckpoint };
    Steps pit_rtc;
    pit_rtc.u32(1000);
    pit_rtc
        .step(kOut, 9, 0, 0x34)   // PIT: counter 0, mode 2, lo/hi
        .step(kOut, 6, 0, 0x00)
        .step(kOut, 6, 0, 0x10)
        .step(kOut, 11, 0, 0x0b)  // RTC index B
        .step(kOut, 12, 0, 0x42)  // periodic interrupts on, 24-hour
        .step(kOut, 11, 0, 0x0a)
        .step(kOut, 12, 0, 0x26)
        .step(kTime, 0, 0, 0, 0, 0, 60000)
        .step(kCheckpoint, 0, 0, 0)
        .step(kIn, 6, 0, 0)
        .step(kOut, 11, 0, 0x0c)
        .step(kIn, 12, 0, 0)
        .step(kOut, 10, 0, 0x01)  // port B: gate 2
        .step(kIn, 10, 0, 0)
        .step(kTime, 0, 0, 0, 0, 0, 60000)
        .step(kAck, 0, 0, 1);
    write(dir, "pit_rtc", pit_rtc);

    Steps apic;
    apic.u32(5000);
    apic
        .step(kMmioWrite, 0, 2, 0x1ff, 0x0f0)                    // xAPIC SVR: enabled
        .step(kMmioWrite, 0, 2, 0x20030, 0x320)                  // LVT timer: periodic, vector 0x30
        .step(kMmioWrite, 0, 2, 0x3, 0x3e0)                      // divide by 16
        .step(kMmioWrite, 0, 2, 1000, 0x380)                     // initial count
        .step(kMmioWrite, 0, 2, 0x10, 0x8000)                    // IOREGSEL: pin 0 low
        .step(kMmioWrite, 0, 2, 0x31, 0x8010)                    // IOWIN: vector 0x31
        .step(kMmioRead, 0, 2, 0, 0x8010)
        .step(kTime, 0, 0, 0, 0, 0, 50000)
        .step(kCheckpoint, 0, 0, 0)
        .step(kAck, 0, 0, 1)
        .step(kMmioWrite, 0, 2, 0, 0x0b0)  // EOI
        .step(kMmioRead, 0, 2, 0, 0x390)   // current count
        .step(kMsrWrite, 0, 0, 0xfee00c00, 0, 0)  // IA32_APIC_BASE: x2APIC
        .step(kMsrRead, 0, 0, 0, 0, 8)
        .step(kTime, 0, 0, 0, 0, 0, 50000)
        .step(kAck, 0, 0, 1);
    write(dir, "apic_ioapic", apic);

    Steps uart_pic;
    uart_pic.u32(0);
    uart_pic
        .step(kOut, 14, 0, 0x02)  // UART IER: THRE interrupt
        .step(kOut, 17, 0, 0x08)  // MCR: OUT2
        .step(kOut, 13, 0, 'o')
        .step(kCheckpoint, 0, 0, 0)
        .step(kOut, 13, 0, 'k')
        .step(kOut, 13, 0, '\n')
        .step(kIn, 15, 0, 0)       // IIR
        .step(kOut, 0, 0, 0x11)    // PIC ICW1..4, then masks
        .step(kOut, 1, 0, 0x20)
        .step(kOut, 1, 0, 0x04)
        .step(kOut, 1, 0, 0x01)
        .step(kOut, 1, 0, 0xfb)
        .step(kIn, 4, 0, 0)        // ELCR
        .step(kOut, 21, 0, 0x34)   // sleep control: SLP_EN with S5
        .step(kCheckpoint, 0, 0, 0);
    write(dir, "uart_pic_power", uart_pic);
}

// ---- rsdp_scan: u16 EBDA segment, u8 flags, u16 count + EBDA bytes, u16 place + BIOS bytes -------

std::vector<std::uint8_t> rsdp(unsigned revision, std::uint32_t rsdt, std::uint64_t xsdt, bool broken = false) {
    std::vector<std::uint8_t> r(revision >= 2 ? 36 : 20, 0);
    const char sig[] = "RSD PTR ";
    for (int i = 0; i < 8; ++i) r[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(sig[i]);
    const char oem[] = "TANDEM";
    for (int i = 0; i < 6; ++i) r[9 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(oem[i]);
    r[15] = static_cast<std::uint8_t>(revision);
    for (int i = 0; i < 4; ++i) r[16 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(rsdt >> (8 * i));
    unsigned sum = 0;
    if (revision >= 2) {
        r[20] = 36;
        for (int i = 0; i < 8; ++i) r[24 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(xsdt >> (8 * i));
    }
    for (int i = 0; i < 20; ++i) sum += r[static_cast<std::size_t>(i)];
    r[8] = static_cast<std::uint8_t>(0x100 - (sum & 0xff));
    if (revision >= 2) {
        sum = 0;
        for (std::size_t i = 0; i < 36; ++i) sum += r[i];
        r[32] = static_cast<std::uint8_t>(0x100 - (sum & 0xff));
    }
    if (broken) r[19] ^= 1;
    return r;
}

void rsdp_scan(const fs::path& dir) {
    auto v1 = rsdp(0, 0xe1000, 0), v2 = rsdp(2, 0x7fe0000, 0x7fe0100), bad = rsdp(0, 0xe1000, 0, true);
    std::vector<std::uint8_t> bios;
    bios.insert(bios.end(), bad.begin(), bad.end());
    bios.resize(16, 0);
    bios.insert(bios.end(), v1.begin(), v1.end());
    write(dir, "bios_area_v1", Seed().u16(0).u8(0).u16(0).u16(0x15a3).raw(bios));
    std::vector<std::uint8_t> ebda(16, 0);
    ebda.insert(ebda.end(), v2.begin(), v2.end());
    write(dir, "ebda_v2", Seed().u16(0x9fc0).u8(0).u16(static_cast<unsigned>(ebda.size())).raw(ebda).u16(0x100).raw(v1));
    write(dir, "ebda_unreadable", Seed().u16(0x9fc0).u8(8).u16(static_cast<unsigned>(ebda.size())).raw(ebda).u16(0x1fff).raw(v2));
    write(dir, "nothing", Seed().u16(0x40).u8(4).u16(0).u16(0));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_guest_seeds DIR\n");
        return 2;
    }
    fs::path dir = argv[1];
    fs::create_directories(dir);
    std::string which = dir.filename().string();
    if (which == "mmio_decode_walk") {
        mmio_decode_walk(dir);
    } else if (which == "vcpu_exits") {
        vcpu_exits(dir);
    } else if (which == "pc_platform") {
        pc_platform(dir);
    } else if (which == "rsdp_scan") {
        rsdp_scan(dir);
    } else {
        std::fprintf(stderr, "fuzz_guest_seeds: no seeds for %s\n", which.c_str());
        return 1;
    }
    return 0;
}
