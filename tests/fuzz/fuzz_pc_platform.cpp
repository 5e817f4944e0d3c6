// libFuzzer: a guest's register accesses to the PC platform's device models
// (hypervisor/devices/pc_platform.hpp: local APIC page and MSRs, IOAPIC, 8259 pair and ELCR, 8254
// PIT and port B, CMOS RTC, ACPI PM timer, the power and reset ports) and the 16550 UART, through
// the same port and MMIO buses the vCPU uses, with time passing and interrupts taken as the vCPU
// takes them.
// The input is a program (fuzz::Input), one operation per step: a port read or write, an MMIO read
// or write in the APIC or IOAPIC page, an APIC MSR read or write, time passing, an interrupt
// acknowledged, a key typed into the UART's receiver, or a checkpoint.
//
// Checked, beyond ASan/UBSan:
//   - a checkpoint's saved state restores into a fresh platform (and into the same one: any number
//     of times) and saves again to the same bytes;
//   - from the first checkpoint on, the restored platform runs the rest of the program next to
//     the original and must behave the same: every value read, MSR status, pending and
//     acknowledged vector, timer deadline, and every byte the UART prints (state the checkpoint
//     forgot would show here as a divergence);
//   - after time is brought up to t, no timer deadline is still at or before t;
//   - reads return no bits beyond the access size.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hypervisor/devices/pc_platform.hpp"
#include "hypervisor/devices/uart16550_model.hpp"
#include "hypervisor/util/byte_stream.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

// A failed check names its line before the trap, so a reproducer says which property broke.
[[noreturn]] void fail(int line = __builtin_LINE()) {
    std::fprintf(stderr, "%s:%d: check failed\n", __FILE__, line);
    __builtin_trap();
}
void check(bool ok, int line = __builtin_LINE()) {
    if (!ok) fail(line);
}

constexpr std::uint64_t kTscHz = 2'000'000'000;

class Clock final : public tandem::GuestClock {
public:
    std::uint64_t guest_tsc() const override { return tsc; }
    std::uint64_t tsc = 0;
};

class TextWriter final : public tandem::Writer {
public:
    void write(std::string_view s) override {
        if (text.size() < (1u << 20)) text.append(s);
    }
    std::string text;
};

struct Platform {
    Clock clock;
    TextWriter log;      // the models' own reports (not compared: said once per model)
    TextWriter console;  // what the guest prints through the UART
    tandem::PortIoBus io{log};
    tandem::MmioBus mmio;
    tandem::PcPlatform pc{clock, log, tandem::PcPlatformConfig{kTscHz, 1'700'000'000, {}}};
    tandem::Uart16550Model uart{console};

    explicit Platform(std::uint64_t tsc) {
        clock.tsc = tsc;
        check(io.attach(tandem::Uart16550Model::kBase, tandem::Uart16550Model::kPorts, uart).ok());
        check(pc.attach(io, mmio).ok());
        uart.set_interrupt_line(&pc.irq_lines());
    }

    std::vector<tandem::StatefulDevice*> models() {
        std::vector<tandem::StatefulDevice*> all(pc.devices().begin(), pc.devices().end());
        all.push_back(&uart);
        return all;
    }

    std::vector<std::vector<std::uint8_t>> save() {
        std::vector<std::vector<std::uint8_t>> states;
        for (tandem::StatefulDevice* d : models()) {
            std::vector<std::uint8_t> bytes(4096);
            tandem::ByteWriter w(bytes);
            d->save_state(w);
            check(!w.overflow() && w.size() <= 1024);  // fits a checkpoint's device record
            bytes.resize(w.size());
            states.push_back(std::move(bytes));
        }
        return states;
    }
    void restore(const std::vector<std::vector<std::uint8_t>>& states) {
        auto all = models();
        check(states.size() == all.size());
        for (std::size_t i = 0; i < all.size(); ++i) {
            check(all[i]->restore_state(all[i]->state_version(), states[i]).ok());
        }
    }
};

constexpr std::uint16_t kPorts[] = {0x20,  0x21,  0xa0,  0xa1,  0x4d0, 0x4d1, 0x40,  0x41,  0x42,  0x43,
                                    0x61,  0x70,  0x71,  0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe,
                                    0x3ff, 0x600, 0x601, 0x602, 0x64,  0x80,  0xcf8, 0x22, 0x608, 0x60b};
constexpr std::uint32_t kMsrs[] = {0x1b,  0x6e0, 0x802, 0x803, 0x808, 0x80a, 0x80b, 0x80d, 0x80f, 0x828,
                                   0x830, 0x832, 0x833, 0x834, 0x835, 0x836, 0x837, 0x838, 0x839, 0x83e,
                                   0x83f, 0x810, 0x817, 0x820, 0x827, 0x800, 0x8ff, 0x10};
constexpr unsigned kSizes[] = {1, 2, 4, 8};

std::uint64_t mask_of(unsigned bytes) { return bytes >= 8 ? ~0ull : (1ull << (8 * bytes)) - 1; }

// One step on one platform; what it observed goes to `seen`.
struct Step {
    unsigned op = 0;
    std::uint16_t port = 0;
    unsigned size = 1;
    std::uint64_t value = 0;
    std::uint64_t address = 0;
    std::uint32_t msr = 0;
    std::uint64_t time = 0;
};

Step next_step(fuzz::Input& in) {
    Step s;
    s.op = in.pick(10);
    std::uint8_t which = in.u8();
    constexpr unsigned kPortCount = sizeof kPorts / sizeof kPorts[0];
    s.port = which < 2 * kPortCount ? kPorts[which % kPortCount] : in.u16();
    s.size = kSizes[in.pick(s.op == 2 || s.op == 3 ? 4 : 3)];
    s.value = in.flag() ? in.u8() : in.u64();
    std::uint16_t offset = in.u16();
    s.address = ((offset & 0x8000) ? tandem::IoApicModel::kBase : tandem::LocalApicModel::kDefaultBase) + (offset & 0xfff);
    std::uint8_t m = in.u8();
    s.msr = m < 2 * (sizeof kMsrs / sizeof kMsrs[0]) ? kMsrs[m % (sizeof kMsrs / sizeof kMsrs[0])] : 0x800u + in.u8();
    s.time = in.flag() ? in.u16() : (in.flag() ? in.u32() : in.u64());
    return s;
}

void note(std::vector<std::uint64_t>& seen, std::optional<std::uint64_t> v) {
    seen.push_back(v ? *v : 0xdead'beef'cafe'f00dull);
}

void run(Platform& p, const Step& s, std::vector<std::uint64_t>& seen) {
    switch (s.op) {
        case 0: p.io.write(s.port, s.size, static_cast<std::uint32_t>(s.value & mask_of(s.size))); break;
        case 1: {
            std::uint32_t v = p.io.read(s.port, s.size);
            check((v & ~mask_of(s.size)) == 0);
            seen.push_back(v);
            break;
        }
        case 2:
        case 3: {
            std::uint64_t offset = 0;
            tandem::MmioDevice* d = p.mmio.find(s.address, s.size, offset);
            if (d == nullptr) {
                seen.push_back(0xfee);  // straddles the page end: the vCPU stops such a guest
                break;
            }
            if (s.op == 2) {
                d->mmio_write(offset, s.size, s.value & mask_of(s.size));
            } else {
                std::uint64_t v = d->mmio_read(offset, s.size);
                check((v & ~mask_of(s.size)) == 0);
                seen.push_back(v);
            }
            break;
        }
        case 4:
            if (p.pc.handles_msr(s.msr)) seen.push_back(p.pc.write_msr(s.msr, s.value).ok());
            break;
        case 5:
            if (p.pc.handles_msr(s.msr)) {
                auto r = p.pc.read_msr(s.msr);
                note(seen, r ? std::optional<std::uint64_t>(*r) : std::nullopt);
            }
            break;
        case 6: {  // time passes (saturating: the guest TSC never wraps)
            std::uint64_t t = p.clock.tsc + s.time < p.clock.tsc ? ~0ull : p.clock.tsc + s.time;
            p.clock.tsc = t;
            p.pc.advance(t);
            auto d = p.pc.next_deadline();
            if (d && *d <= t && t != ~0ull) fail();  // every expiry up to t has fired
            note(seen, d);
            break;
        }
        case 7: {  // the vCPU takes the interrupt; the guest's handler ends it
            auto v = p.pc.acknowledge();
            note(seen, v);
            if (v && (s.value & 1)) seen.push_back(p.pc.write_msr(0x80b, 0).ok());
            break;
        }
        case 9:  // a key typed on tandem's console, when the guest's UART has room for it
            if (p.uart.input_room() != 0) p.uart.accept_input(static_cast<std::uint8_t>(s.value));
            seen.push_back(p.uart.input_room());
            break;
        default: break;  // 8, a checkpoint: done by the caller
    }
    note(seen, p.pc.pending_vector());
    note(seen, p.pc.next_deadline());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::Input in(data, size);
    auto a = std::make_unique<Platform>(in.u32());
    std::unique_ptr<Platform> b;  // the platform restored from the first checkpoint
    std::size_t console_at_checkpoint = 0;
    std::vector<std::uint64_t> seen_a, seen_b;
    for (unsigned steps = 0; !in.empty() && steps < 512; ++steps) {
        Step s = next_step(in);
        if (s.op == 8) {
            auto saved = a->save();
            auto fresh = std::make_unique<Platform>(a->clock.tsc);
            fresh->restore(saved);
            check(fresh->save() == saved);
            a->restore(saved);  // restoring a model onto itself changes nothing
            check(a->save() == saved);
            if (!b) {
                b = std::move(fresh);
                console_at_checkpoint = a->console.text.size();
            } else {
                check(b->save() == saved);  // the two have kept in step
            }
            continue;
        }
        seen_a.clear();
        seen_b.clear();
        run(*a, s, seen_a);
        if (!b) continue;
        run(*b, s, seen_b);
        check(seen_a == seen_b);
        check(a->clock.tsc == b->clock.tsc);
    }
    if (b) {
        check(std::string_view(a->console.text).substr(console_at_checkpoint) == b->console.text);
        check(a->save() == b->save());
    }
    return 0;
}
