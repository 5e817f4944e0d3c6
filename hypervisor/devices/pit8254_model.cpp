#include "hypervisor/devices/pit8254_model.hpp"

#include "hypervisor/util/mul_div.hpp"

namespace tandem {
namespace {
constexpr std::uint8_t kPortBWritable = 0x0f, kPortBGate2 = 0x01;
constexpr std::uint8_t kPortBRefresh = 0x10, kPortBOut2 = 0x20;
// Port 0x61 bit 4 toggles with every DRAM refresh request, every 15.085 us: 18 PIT clocks.
constexpr std::uint64_t kRefreshTicks = 18;
}  // namespace

Pit8254Model::Pit8254Model(GuestClock& clock, IrqLines& irq, std::uint64_t tsc_hz)
    : clock_(clock), irq_(irq), tsc_hz_(tsc_hz == 0 ? 1 : tsc_hz) {}

std::uint64_t Pit8254Model::tick_at(std::uint64_t guest_tsc) const { return mul_div(guest_tsc, kFrequencyHz, tsc_hz_); }

std::uint64_t Pit8254Model::now_tick() const {
    std::uint64_t tick = tick_at(clock_.guest_tsc());
    return tick < synced_tick_ ? synced_tick_ : tick;  // time never runs backwards for the counters
}

void Pit8254Model::sync(std::uint64_t tick) {
    if (tick < synced_tick_) tick = synced_tick_;
    std::uint64_t edges = counters_[0].rising_edges(synced_tick_, tick);
    bool level = counters_[0].output(tick);
    synced_tick_ = tick;
    if (edges != 0) {
        // Edges the IOAPIC did not see one by one still reach it as one rising edge.
        if (line_) irq_.set_irq(kIrqPin, false);
        irq_.set_irq(kIrqPin, true);
        line_ = true;
        ++irq_edges_;
    }
    if (level != line_) {
        if (level) ++irq_edges_;
        irq_.set_irq(kIrqPin, level);
        line_ = level;
    }
}

void Pit8254Model::advance(std::uint64_t guest_tsc) { sync(tick_at(guest_tsc)); }

std::optional<std::uint64_t> Pit8254Model::next_deadline() const {
    auto tick = counters_[0].next_rising_edge(synced_tick_);
    if (!tick) return std::nullopt;
    // The first TSC value whose tick reaches it.
    std::uint64_t tsc = mul_div_ceil(*tick, tsc_hz_, kFrequencyHz);
    if (tsc == ~0ull) return std::nullopt;
    return tsc;
}

std::uint32_t Pit8254Model::read(std::uint16_t port, unsigned size) {
    std::uint64_t tick = now_tick();
    sync(tick);
    std::uint32_t value = 0;
    for (unsigned i = 0; i < size && i < 4; ++i) {
        value |= static_cast<std::uint32_t>(read_byte(static_cast<std::uint16_t>(port + i), tick)) << (8 * i);
    }
    return value;
}

void Pit8254Model::write(std::uint16_t port, unsigned size, std::uint32_t value) {
    std::uint64_t tick = now_tick();
    sync(tick);
    for (unsigned i = 0; i < size && i < 4; ++i) {
        write_byte(static_cast<std::uint16_t>(port + i), static_cast<std::uint8_t>(value >> (8 * i)), tick);
    }
    sync(tick);  // programming may have moved OUT0
}

std::uint8_t Pit8254Model::read_byte(std::uint16_t port, std::uint64_t tick) {
    if (port >= kBase && port < kBase + 3) return counters_[port - kBase].read(tick);
    if (port == kPortB) {
        return static_cast<std::uint8_t>(port_b_ | ((tick / kRefreshTicks) & 1 ? kPortBRefresh : 0) |
                                         (counters_[2].output(tick) ? kPortBOut2 : 0));
    }
    return 0xff;  // the control word register cannot be read (8254 data sheet, Table 1)
}

void Pit8254Model::write_byte(std::uint16_t port, std::uint8_t value, std::uint64_t tick) {
    if (port >= kBase && port < kBase + 3) return counters_[port - kBase].write(value, tick);
    if (port == kPortB) {
        port_b_ = value & kPortBWritable;
        counters_[2].set_gate((value & kPortBGate2) != 0, tick);
        return;
    }
    if (port != kBase + 3) return;
    unsigned select = value >> 6;
    if (select == 3) {
        // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3 select.
        for (unsigned i = 0; i < 3; ++i) {
            if (!(value & (2u << i))) continue;
            if (!(value & 0x20)) counters_[i].latch_count(tick);
            if (!(value & 0x10)) counters_[i].latch_status(tick);
        }
        return;
    }
    if ((value & 0x30) == 0) return counters_[select].latch_count(tick);
    counters_[select].control(value);
}

void Pit8254Model::save_state(ByteWriter& out) const {
    out.put(tsc_hz_);
    out.put(port_b_);
    out.put<std::uint8_t>(line_ ? 1 : 0);
    out.put(synced_tick_);
    for (const PitCounter& c : counters_) c.save(out);
}

Status Pit8254Model::restore_state(std::uint16_t version, std::span<const std::uint8_t> in) {
    if (version != 1) return Error::of("pit: unsupported state version", version);
    ByteReader r(in);
    std::uint64_t tsc_hz = 0, synced = 0;
    std::uint8_t port_b = 0, line = 0;
    if (!r.get(tsc_hz) || !r.get(port_b) || !r.get(line) || !r.get(synced)) return Error::of("pit: truncated state");
    PitCounter counters[3];
    for (unsigned i = 0; i < 3; ++i) {
        if (auto s = counters[i].load(r, i < 2); !s) return s;
    }
    if (r.remaining() != 0) return Error::of("pit: trailing bytes in state", r.remaining());
    // The guest's TSC frequency travels with its state: a backup whose own calibration differs
    // slightly keeps the clock the guest was booted with (Linux read it once, from CPUID).
    if (tsc_hz == 0) return Error::of("pit: zero TSC frequency in state");
    if ((port_b & ~kPortBWritable) || line > 1) return Error::of("pit: bad port 0x61 or line state", port_b);
    if (((port_b & kPortBGate2) != 0) != counters[2].gate()) {
        return Error::of("pit: gate 2 disagrees with port 0x61 in state");
    }
    tsc_hz_ = tsc_hz;
    port_b_ = port_b;
    line_ = line == 1;
    synced_tick_ = synced;
    for (unsigned i = 0; i < 3; ++i) counters_[i] = counters[i];
    return success();
}

}  // namespace tandem
