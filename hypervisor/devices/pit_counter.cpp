#include "hypervisor/devices/pit_counter.hpp"

#include "hypervisor/util/mul_div.hpp"

namespace tandem {
namespace {

std::uint16_t to_bcd(std::uint32_t v) {
    return static_cast<std::uint16_t>((v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) |
                                      ((v / 1000 % 10) << 12));
}
// Digits above 9 are taken at face value, as the counter's decade logic would count them down.
std::uint32_t from_bcd(std::uint16_t v) {
    return (v & 0xfu) + ((v >> 4) & 0xfu) * 10 + ((v >> 8) & 0xfu) * 100 + ((v >> 12) & 0xfu) * 1000;
}

constexpr std::uint8_t kFlagWriteMsb = 1, kFlagReadMsb = 2, kFlagCountLatched = 4, kFlagStatusLatched = 8,
                       kFlagGate = 16, kFlagArmed = 32, kFlagTriggered = 64, kFlagFrozen = 128;

bool gated_mode(unsigned mode) { return mode == 0 || mode == 2 || mode == 3 || mode == 4; }

}  // namespace

void PitCounter::control(std::uint8_t control_word) {
    // Writing a control word resets the counter's control logic; OUT goes to its initial state
    // (low in mode 0, high otherwise) and nothing counts until a count is written.
    mode_bits_ = (control_word >> 1) & 7;
    access_ = (control_word >> 4) & 3;
    bcd_ = (control_word & 1) != 0;
    write_msb_next_ = read_msb_next_ = false;
    count_latched_ = status_latched_ = false;
    armed_ = triggered_ = frozen_ = false;
    start_ = base_clocks_ = 0;
}

std::uint64_t PitCounter::clocks(std::uint64_t tick) const {
    if (frozen_ || tick <= start_) return base_clocks_;
    return saturating_add(base_clocks_, tick - start_);
}

std::uint32_t PitCounter::value(std::uint64_t tick) const {
    const std::uint32_t m = modulus();
    std::uint64_t e = counting() ? clocks(tick) : 0;
    if (e == 0) return n_ % m;
    switch (mode()) {
        case 2: return static_cast<std::uint32_t>(n_ - (e - 1) % n_) % m;
        case 3: {
            // Counts down by two: even N shows N, N-2 .. 2 in each half; odd N shows N-1 .. 0
            // while OUT is high ((N+1)/2 clocks) and N-1 .. 2 while it is low.
            auto p = static_cast<std::uint32_t>((e - 1) % n_);
            if (n_ % 2 == 0) return (n_ - 2 * (p % (n_ / 2))) % m;
            std::uint32_t high = (n_ + 1) / 2;
            return (n_ - 1 - 2 * (p < high ? p : p - high)) % m;
        }
        default: return static_cast<std::uint32_t>((n_ % m + m - (e - 1) % m) % m);
    }
}

std::uint16_t PitCounter::count(std::uint64_t tick) const {
    std::uint32_t v = value(tick);
    return bcd_ ? to_bcd(v) : static_cast<std::uint16_t>(v);
}

bool PitCounter::output(std::uint64_t tick) const {
    unsigned mode = this->mode();
    if (!armed_) return mode != 0;
    if (!counting()) return true;  // modes 1 and 5 before their trigger
    if ((mode == 2 || mode == 3) && frozen_) return true;
    std::uint64_t e = clocks(tick);
    switch (mode) {
        case 0: return e >= std::uint64_t{n_} + 1;
        case 1: return e == 0 || e > n_;
        case 2: return e == 0 || e % n_ != 0;
        case 3: return e == 0 || (e - 1) % n_ < (n_ + 1) / 2;
        default: return e != std::uint64_t{n_} + 1;  // 4, 5: a one-clock strobe
    }
}

std::uint64_t PitCounter::rising_edges(std::uint64_t from, std::uint64_t to) const {
    if (!counting() || to <= from) return 0;
    std::uint64_t e0 = clocks(from), e1 = clocks(to);
    switch (mode()) {
        case 2:
        case 3: {
            // Rising at e = kN + 1 (k >= 1), when the count reloads.
            auto reloads = [&](std::uint64_t e) { return e == 0 ? 0 : (e - 1) / n_; };
            return reloads(e1) - reloads(e0);
        }
        case 0:
        case 1: return e0 < std::uint64_t{n_} + 1 && std::uint64_t{n_} + 1 <= e1 ? 1 : 0;
        default: return e0 < std::uint64_t{n_} + 2 && std::uint64_t{n_} + 2 <= e1 ? 1 : 0;
    }
}

std::optional<std::uint64_t> PitCounter::next_rising_edge(std::uint64_t after) const {
    if (!counting() || frozen_) return std::nullopt;
    std::uint64_t e = clocks(after);
    std::uint64_t target = 0;  // the clock count at which OUT rises
    switch (mode()) {
        case 2:
        case 3: target = ((e == 0 ? 0 : (e - 1) / n_) + 1) * n_ + 1; break;
        case 0:
        case 1: target = std::uint64_t{n_} + 1; break;
        default: target = std::uint64_t{n_} + 2; break;
    }
    if (target <= e) return std::nullopt;
    // clocks(t) = base + (t - start) for t >= start.
    std::uint64_t at = saturating_add(start_, target - base_clocks_);
    if (at == ~0ull) return std::nullopt;
    return at > after ? at : after + 1;
}

void PitCounter::load_count(std::uint64_t tick) {
    std::uint32_t n = bcd_ ? from_bcd(count_register_) : count_register_;
    if (n == 0) n = modulus();
    unsigned mode = this->mode();
    if ((mode == 2 || mode == 3) && n < 2) n = 2;
    n_ = n;
    armed_ = true;
    triggered_ = false;
    start_ = tick;
    base_clocks_ = 0;
    frozen_ = gated_mode(mode) && !gate_;
}

void PitCounter::write(std::uint8_t byte, std::uint64_t tick) {
    switch (access_) {
        case 1: count_register_ = byte; return load_count(tick);
        case 2: count_register_ = static_cast<std::uint16_t>(byte << 8); return load_count(tick);
        default: break;
    }
    if (!write_msb_next_) {
        count_register_ = static_cast<std::uint16_t>((count_register_ & 0xff00) | byte);
        write_msb_next_ = true;
        // Mode 0: writing the first byte stops the count and sets OUT low (data sheet, mode 0).
        if (mode() == 0) armed_ = frozen_ = false;
        return;
    }
    count_register_ = static_cast<std::uint16_t>((count_register_ & 0x00ff) | (byte << 8));
    write_msb_next_ = false;
    load_count(tick);
}

void PitCounter::latch_count(std::uint64_t tick) {
    if (count_latched_) return;  // a second latch before the first is read is ignored
    latched_count_ = count(tick);
    count_latched_ = true;
}

void PitCounter::latch_status(std::uint64_t tick) {
    if (status_latched_) return;
    bool null_count = !counting() || clocks(tick) == 0;
    latched_status_ = static_cast<std::uint8_t>((output(tick) ? 0x80 : 0) | (null_count ? 0x40 : 0) | (access_ << 4) |
                                                (mode_bits_ << 1) | (bcd_ ? 1 : 0));
    status_latched_ = true;
}

std::uint8_t PitCounter::read(std::uint64_t tick) {
    if (status_latched_) {
        status_latched_ = false;
        return latched_status_;
    }
    std::uint16_t v = count_latched_ ? latched_count_ : count(tick);
    bool msb = access_ == 2 || (access_ == 3 && read_msb_next_);
    if (access_ == 3) read_msb_next_ = !read_msb_next_;
    if (count_latched_ && (access_ != 3 || msb)) count_latched_ = false;
    return static_cast<std::uint8_t>(msb ? v >> 8 : v);
}

void PitCounter::set_gate(bool high, std::uint64_t tick) {
    if (high == gate_) return;
    gate_ = high;
    if (!armed_) return;
    switch (mode()) {
        case 0:
        case 4:
            // Gate low suspends the count; high resumes it.
            if (!high) {
                base_clocks_ = clocks(tick);
                frozen_ = true;
            } else {
                start_ = tick;
                frozen_ = false;
            }
            return;
        case 2:
        case 3:
            // Gate low stops the count and holds OUT high; the rising edge reloads the count.
            frozen_ = !high;
            if (high) {
                start_ = tick;
                base_clocks_ = 0;
            }
            return;
        default:
            // Modes 1 and 5: a rising edge (re)triggers the count.
            if (high) {
                triggered_ = true;
                start_ = tick;
                base_clocks_ = 0;
            }
            return;
    }
}

void PitCounter::save(ByteWriter& out) const {
    out.put(mode_bits_);
    out.put(access_);
    out.put<std::uint8_t>(bcd_ ? 1 : 0);
    out.put(count_register_);
    auto flag = [](bool b, std::uint8_t bit) { return b ? bit : std::uint8_t{0}; };
    out.put(static_cast<std::uint8_t>(
        flag(write_msb_next_, kFlagWriteMsb) | flag(read_msb_next_, kFlagReadMsb) |
        flag(count_latched_, kFlagCountLatched) | flag(status_latched_, kFlagStatusLatched) | flag(gate_, kFlagGate) |
        flag(armed_, kFlagArmed) | flag(triggered_, kFlagTriggered) | flag(frozen_, kFlagFrozen)));
    out.put(latched_count_);
    out.put(latched_status_);
    out.put(n_);
    out.put(start_);
    out.put(base_clocks_);
}

Status PitCounter::load(ByteReader& in, bool gate_fixed_high) {
    PitCounter c;
    std::uint8_t bcd = 0, flags = 0;
    if (!in.get(c.mode_bits_) || !in.get(c.access_) || !in.get(bcd) || !in.get(c.count_register_) || !in.get(flags) ||
        !in.get(c.latched_count_) || !in.get(c.latched_status_) || !in.get(c.n_) || !in.get(c.start_) ||
        !in.get(c.base_clocks_)) {
        return Error::of("pit: truncated counter state");
    }
    c.bcd_ = bcd == 1;
    c.write_msb_next_ = flags & kFlagWriteMsb;
    c.read_msb_next_ = flags & kFlagReadMsb;
    c.count_latched_ = flags & kFlagCountLatched;
    c.status_latched_ = flags & kFlagStatusLatched;
    c.gate_ = flags & kFlagGate;
    c.armed_ = flags & kFlagArmed;
    c.triggered_ = flags & kFlagTriggered;
    c.frozen_ = flags & kFlagFrozen;
    unsigned mode = c.mode();
    if (c.mode_bits_ > 7 || c.access_ < 1 || c.access_ > 3 || bcd > 1) {
        return Error::of("pit: bad counter mode in state", c.mode_bits_);
    }
    if ((c.write_msb_next_ || c.read_msb_next_) && c.access_ != 3) {
        return Error::of("pit: bad byte sequence in state", flags);
    }
    if (gate_fixed_high && !c.gate_) return Error::of("pit: gate of counter 0 or 1 low in state");
    if (c.n_ < 1 || c.n_ > 65536 || (c.armed_ && (mode == 2 || mode == 3) && c.n_ < 2)) {
        return Error::of("pit: bad count in state", c.n_);
    }
    if (c.triggered_ && !(c.armed_ && (mode == 1 || mode == 5))) {
        return Error::of("pit: bad trigger flag in state", flags);
    }
    if (c.frozen_ != (c.armed_ && gated_mode(mode) && !c.gate_)) {
        return Error::of("pit: bad gate state in state", flags);
    }
    *this = c;
    return success();
}

}  // namespace tandem
