#include "hypervisor/devices/cmos_rtc_model.hpp"

#include "hypervisor/devices/civil_time.hpp"
#include "hypervisor/util/mul_div.hpp"

namespace tandem {
namespace {

enum Index : std::uint8_t {
    kSeconds = 0x00, kSecondsAlarm = 0x01, kMinutes = 0x02, kMinutesAlarm = 0x03, kHours = 0x04, kHoursAlarm = 0x05,
    kDayOfWeek = 0x06, kDayOfMonth = 0x07, kMonth = 0x08, kYear = 0x09, kRegA = 0x0a, kRegB = 0x0b, kRegC = 0x0c,
    kRegD = 0x0d,
};
constexpr std::uint8_t kAUip = 0x80, kAWritable = 0x7f;
constexpr std::uint8_t kBSet = 0x80, kBPie = 0x40, kBAie = 0x20, kBUie = 0x10, kBBinary = 0x04, kB24Hour = 0x02;
constexpr std::uint8_t kBInterruptEnables = kBPie | kBAie | kBUie;
constexpr std::uint8_t kCIrqf = 0x80, kCPf = 0x40, kCAf = 0x20, kCUf = 0x10;
constexpr std::uint8_t kDValidRam = 0x80;
constexpr std::uint8_t kAlarmDontCare = 0xc0;
constexpr std::uint64_t kDividerHz = 32768;
constexpr std::uint64_t kUipMicroseconds = 244 + 1984;

std::int64_t clamp_time(std::int64_t t) {
    if (t < CmosRtcModel::kMinSeconds) return CmosRtcModel::kMinSeconds;
    return t > CmosRtcModel::kMaxSeconds ? CmosRtcModel::kMaxSeconds : t;
}

}  // namespace

CmosRtcModel::CmosRtcModel(GuestClock& clock, IrqLines& irq, const CmosRtcConfig& config)
    : clock_(clock),
      irq_(irq),
      tsc_hz_(config.tsc_hz == 0 ? 1 : config.tsc_hz),
      base_seconds_(clamp_time(config.unix_seconds)),
      origin_tsc_(config.at_guest_tsc),
      divider_tsc_(config.at_guest_tsc),
      synced_tsc_(config.at_guest_tsc) {
    ram_[kCenturyIndex - kRamFirst] = encode(static_cast<int>(civil_from_seconds(base_seconds_).year / 100));
}

bool CmosRtcModel::running() const { return !(b_ & kBSet) && divider_running(); }

std::uint64_t CmosRtcModel::seconds_elapsed(std::uint64_t tsc) const {
    return tsc > origin_tsc_ ? (tsc - origin_tsc_) / tsc_hz_ : 0;
}

std::int64_t CmosRtcModel::time_at(std::uint64_t guest_tsc) const {
    if (!running()) return base_seconds_;
    std::uint64_t elapsed = seconds_elapsed(guest_tsc);
    std::uint64_t room = static_cast<std::uint64_t>(kMaxSeconds - base_seconds_);
    return elapsed > room ? kMaxSeconds : base_seconds_ + static_cast<std::int64_t>(elapsed);
}

std::uint64_t CmosRtcModel::divider_ticks(std::uint64_t tsc) const {
    return tsc > divider_tsc_ ? mul_div(tsc - divider_tsc_, kDividerHz, tsc_hz_) : 0;
}

std::uint64_t CmosRtcModel::periodic_ticks() const {
    // Rate select (MC146818A Table 5, 32.768 kHz base): 1 and 2 give 256 and 128 Hz, 3-15
    // give 32768 >> (rate - 1) Hz. In divider ticks: the period.
    unsigned rate = a_ & 0x0f;
    if (rate == 0 || !divider_running()) return 0;
    if (rate < 3) return rate == 1 ? 128 : 256;
    return 1ull << (rate - 1);
}

bool CmosRtcModel::update_in_progress(std::uint64_t now) const {
    if (!running() || now < origin_tsc_) return false;
    std::uint64_t into_second = (now - origin_tsc_) % tsc_hz_;
    return into_second >= tsc_hz_ - mul_div(kUipMicroseconds, tsc_hz_, 1000000);
}

std::uint8_t CmosRtcModel::encode(int value) const {
    auto v = static_cast<unsigned>(value);
    return static_cast<std::uint8_t>((b_ & kBBinary) ? v : ((v / 10 % 10) << 4) | (v % 10));
}

int CmosRtcModel::decode(std::uint8_t value) const {
    return (b_ & kBBinary) ? value : (value >> 4) * 10 + (value & 0x0f);
}

std::uint8_t CmosRtcModel::encode_hour(int hour) const {
    if (b_ & kB24Hour) return encode(hour);
    int h12 = hour % 12 == 0 ? 12 : hour % 12;
    return static_cast<std::uint8_t>(encode(h12) | (hour >= 12 ? 0x80 : 0));
}

int CmosRtcModel::decode_hour(std::uint8_t value) const {
    if (b_ & kB24Hour) return decode(value);
    return decode(value & 0x7f) % 12 + ((value & 0x80) ? 12 : 0);
}

std::optional<std::int64_t> CmosRtcModel::next_alarm(std::int64_t from) const {
    auto field = [&](std::uint8_t raw, bool hour) -> std::optional<int> {
        if ((raw & kAlarmDontCare) == kAlarmDontCare) return std::nullopt;
        return hour ? decode_hour(raw) : decode(raw);
    };
    auto second = field(alarm_[0], false), minute = field(alarm_[1], false), hour = field(alarm_[2], true);
    if ((second && *second > 59) || (minute && *minute > 59) || (hour && *hour > 23)) {
        return std::nullopt;  // never matches
    }
    // Jump to the next candidate hour, minute and second; a day holds a match if any exists.
    std::int64_t t = from;
    for (int step = 0; step < 512 && t <= from + 86400; ++step) {
        CivilTime c = civil_from_seconds(t);
        if (hour && c.hour != *hour) {
            t += 3600 - (c.minute * 60 + c.second);
        } else if (minute && c.minute != *minute) {
            t += 60 - c.second;
        } else if (second && c.second != *second) {
            t += c.second < *second ? *second - c.second : 60 - c.second;
        } else {
            return t;
        }
    }
    return std::nullopt;
}

void CmosRtcModel::update_line() {
    // The flags and their enables share bit positions (PF/PIE 6, AF/AIE 5, UF/UIE 4).
    bool irqf = (c_ & b_ & kBInterruptEnables) != 0;
    c_ = static_cast<std::uint8_t>(irqf ? c_ | kCIrqf : c_ & ~kCIrqf);
    if (irqf != line_) {
        line_ = irqf;
        irq_.set_irq(kIrqPin, irqf);
    }
}

void CmosRtcModel::sync(std::uint64_t now) {
    if (now < synced_tsc_) now = synced_tsc_;
    if (std::uint64_t period = periodic_ticks(); period != 0) {
        if (divider_ticks(now) / period > divider_ticks(synced_tsc_) / period) c_ |= kCPf;
    }
    if (running()) {
        std::uint64_t s0 = seconds_elapsed(synced_tsc_), s1 = seconds_elapsed(now);
        if (s1 > s0) {
            c_ |= kCUf;
            std::int64_t first = time_at(synced_tsc_) + 1, last = time_at(now);
            if (auto alarm = next_alarm(first); alarm && *alarm <= last) c_ |= kCAf;
        }
    }
    synced_tsc_ = now;
    update_line();
}

void CmosRtcModel::advance(std::uint64_t guest_tsc) { sync(guest_tsc); }

std::optional<std::uint64_t> CmosRtcModel::next_deadline() const {
    if (line_) return std::nullopt;  // IRQ 8 stays up until register C is read
    std::optional<std::uint64_t> next;
    auto consider = [&](std::uint64_t tsc) {
        if (!next || tsc < *next) next = tsc;
    };
    std::uint64_t period = periodic_ticks();
    if ((b_ & kBPie) && period != 0) {
        std::uint64_t tick = (divider_ticks(synced_tsc_) / period + 1) * period;
        consider(saturating_add(divider_tsc_, mul_div_ceil(tick, tsc_hz_, kDividerHz)));
    }
    if (running()) {
        std::uint64_t seconds = seconds_elapsed(synced_tsc_);
        auto boundary = [&](std::uint64_t s) { return saturating_add(origin_tsc_, mul_div(s, tsc_hz_, 1)); };
        if (b_ & kBUie) consider(boundary(seconds + 1));
        if (b_ & kBAie) {
            std::int64_t now_time = time_at(synced_tsc_);
            if (auto alarm = next_alarm(now_time + 1)) {
                consider(boundary(seconds + static_cast<std::uint64_t>(*alarm - now_time)));
            }
        }
    }
    if (next && *next == ~0ull) return std::nullopt;
    return next;
}

std::uint32_t CmosRtcModel::read(std::uint16_t port, unsigned size) {
    std::uint64_t now = clock_.guest_tsc();
    sync(now);
    std::uint32_t value = 0;
    for (unsigned i = 0; i < size && i < 4; ++i) {
        std::uint16_t p = static_cast<std::uint16_t>(port + i);
        // The index register cannot be read back (reads float high).
        std::uint8_t b = p == kBase + 1 ? read_register(index_, now) : 0xff;
        value |= static_cast<std::uint32_t>(b) << (8 * i);
    }
    return value;
}

void CmosRtcModel::write(std::uint16_t port, unsigned size, std::uint32_t value) {
    std::uint64_t now = clock_.guest_tsc();
    sync(now);
    for (unsigned i = 0; i < size && i < 4; ++i) {
        std::uint16_t p = static_cast<std::uint16_t>(port + i);
        auto b = static_cast<std::uint8_t>(value >> (8 * i));
        if (p == kBase) {
            index_ = b & 0x7f;  // bit 7 masks NMIs on a PC: tandem ignores it
        } else if (p == kBase + 1) {
            write_register(index_, b, now);
        }
    }
    update_line();
}

std::uint8_t CmosRtcModel::read_register(std::uint8_t index, std::uint64_t now) {
    if (index >= kRamFirst) return ram_[index - kRamFirst];
    CivilTime t = civil_from_seconds(time_at(now));
    switch (index) {
        case kSeconds: return encode(t.second);
        case kMinutes: return encode(t.minute);
        case kHours: return encode_hour(t.hour);
        case kSecondsAlarm: return alarm_[0];
        case kMinutesAlarm: return alarm_[1];
        case kHoursAlarm: return alarm_[2];
        case kDayOfWeek: return encode(t.weekday + 1);
        case kDayOfMonth: return encode(t.day);
        case kMonth: return encode(t.month);
        case kYear: return encode(static_cast<int>(t.year % 100));
        case kRegA: return static_cast<std::uint8_t>(a_ | (update_in_progress(now) ? kAUip : 0));
        case kRegB: return b_;
        case kRegC: {
            std::uint8_t flags = c_;  // reading clears every flag, and with IRQF the interrupt
            c_ = 0;
            update_line();
            return flags;
        }
        default: return kDValidRam;  // register D: the battery is fine
    }
}

void CmosRtcModel::write_register(std::uint8_t index, std::uint8_t value, std::uint64_t now) {
    if (index >= kRamFirst) {
        ram_[index - kRamFirst] = value;
        return;
    }
    switch (index) {
        case kSecondsAlarm: alarm_[0] = value; return;
        case kMinutesAlarm: alarm_[1] = value; return;
        case kHoursAlarm: alarm_[2] = value; return;
        case kRegA: {
            bool was_running = running(), divider_was = divider_running();
            std::int64_t shown = time_at(now);
            a_ = value & kAWritable;
            if (was_running && !running()) base_seconds_ = shown;
            if (!divider_was && divider_running()) {
                // Leaving divider reset: the first update comes 500 ms later (data sheet, DV bits).
                divider_tsc_ = now;
                origin_tsc_ = now > tsc_hz_ / 2 ? now - tsc_hz_ / 2 : 0;
            }
            return;
        }
        case kRegB: {
            bool was_running = running();
            std::int64_t shown = time_at(now);
            b_ = value;
            if (b_ & kBSet) b_ &= static_cast<std::uint8_t>(~kBUie);  // SET clears UIE (data sheet, register B)
            if (was_running && !running()) base_seconds_ = shown;
            if (!was_running && running()) origin_tsc_ = now;  // counting resumes from the time as set
            return;
        }
        case kRegC:
        case kRegD: return;       // read-only
        case kDayOfWeek: return;  // derived from the date
        default: return write_time_field(index, value, now);
    }
}

void CmosRtcModel::write_time_field(std::uint8_t index, std::uint8_t value, std::uint64_t now) {
    std::int64_t shown = time_at(now);
    CivilTime t = civil_from_seconds(shown);
    std::int64_t year = t.year, month = t.month, day = t.day, hour = t.hour, minute = t.minute, second = t.second;
    switch (index) {
        case kSeconds: second = decode(value); break;
        case kMinutes: minute = decode(value); break;
        case kHours: hour = decode_hour(value); break;
        case kDayOfMonth: day = decode(value); break;
        case kMonth: month = decode(value); break;
        case kYear: year = t.year - t.year % 100 + decode(value); break;
        default: return;
    }
    std::int64_t wanted = clamp_time(seconds_from_civil(year, month, day, hour, minute, second));
    // Running or stopped, the clock now shows `wanted`; a running one keeps its second phase.
    base_seconds_ = clamp_time(base_seconds_ + (wanted - shown));
}

void CmosRtcModel::save_state(ByteWriter& out) const {
    out.put(tsc_hz_);
    out.put(index_);
    out.put(a_);
    out.put(b_);
    out.put(c_);
    for (std::uint8_t a : alarm_) out.put(a);
    out.put<std::uint8_t>(line_ ? 1 : 0);
    out.put_bytes(ram_);
    out.put(static_cast<std::uint64_t>(base_seconds_));
    out.put(origin_tsc_);
    out.put(divider_tsc_);
    out.put(synced_tsc_);
}

Status CmosRtcModel::restore_state(std::uint16_t version, std::span<const std::uint8_t> in) {
    if (version != 1) return Error::of("rtc: unsupported state version", version);
    ByteReader r(in);
    std::uint64_t tsc_hz = 0, base = 0, origin = 0, divider = 0, synced = 0;
    std::uint8_t index = 0, a = 0, b = 0, c = 0, alarm[3]{}, line = 0;
    std::span<const std::uint8_t> ram;
    if (!r.get(tsc_hz) || !r.get(index) || !r.get(a) || !r.get(b) || !r.get(c) || !r.get(alarm[0]) ||
        !r.get(alarm[1]) || !r.get(alarm[2]) || !r.get(line) || !r.get_bytes(ram, kRamSize) || !r.get(base) ||
        !r.get(origin) || !r.get(divider) || !r.get(synced)) {
        return Error::of("rtc: truncated state");
    }
    if (r.remaining() != 0) return Error::of("rtc: trailing bytes in state", r.remaining());
    // The guest's TSC frequency travels with its state (see pit8254_model.cpp).
    if (tsc_hz == 0) return Error::of("rtc: zero TSC frequency in state");
    if (index > 0x7f || (a & ~kAWritable)) return Error::of("rtc: bad index or register A in state", a);
    if ((b & kBSet) && (b & kBUie)) return Error::of("rtc: SET and UIE together in state", b);
    bool irqf = (c & b & kBInterruptEnables) != 0;
    if ((c & 0x0f) || ((c & kCIrqf) != 0) != irqf || line != (irqf ? 1 : 0)) {
        return Error::of("rtc: bad register C in state", c);
    }
    auto seconds = static_cast<std::int64_t>(base);
    if (seconds < kMinSeconds || seconds > kMaxSeconds) return Error::of("rtc: time out of range in state", base);
    tsc_hz_ = tsc_hz;
    index_ = index;
    a_ = a;
    b_ = b;
    c_ = c;
    for (unsigned i = 0; i < 3; ++i) alarm_[i] = alarm[i];
    line_ = line == 1;
    for (std::size_t i = 0; i < kRamSize; ++i) ram_[i] = ram[i];
    base_seconds_ = seconds;
    origin_tsc_ = origin;
    divider_tsc_ = divider;
    synced_tsc_ = synced;
    return success();
}

}  // namespace tandem
