#include "hypervisor/devices/ioapic_model.hpp"

namespace tandem {
namespace {

constexpr std::uint8_t kRegId = 0x00, kRegVersion = 0x01, kRegArbitration = 0x02, kRegTable = 0x10;
constexpr std::uint64_t kOffsetRegSel = 0x00, kOffsetWindow = 0x10;
// Writable redirection entry bits (82093AA §3.2.4): vector, delivery mode, destination mode,
// polarity, trigger mode, mask, destination. Delivery status (12) and remote IRR (14) are read-only.
constexpr std::uint64_t kEntryWritable = 0xff000000'0001afffull;
constexpr std::uint64_t kEntryReset = IoApicModel::kEntryMask;

}  // namespace

IoApicModel::IoApicModel(ApicInterruptSink& apic, Writer& log) : apic_(apic), log_(log) {
    for (auto& e : entries_) e = kEntryReset;
}

void IoApicModel::report_once(Report reason, const char* text, std::uint64_t value) {
    if (reported_ & reason) return;
    reported_ |= reason;
    print(log_, "vm: ioapic: ");
    println(log_, text, hex(value));
}

std::uint64_t IoApicModel::mmio_read(std::uint64_t offset, unsigned size) {
    if (size != 4 || (offset != kOffsetRegSel && offset != kOffsetWindow)) {
        ++stats_.refused_accesses;
        report_once(kReportAccess,
                    "refused an access that is not 32 bits wide at IOREGSEL or IOWIN (offset {}): reads 0", offset);
        return 0;
    }
    return offset == kOffsetRegSel ? ioregsel_ : read_register(ioregsel_);
}

void IoApicModel::mmio_write(std::uint64_t offset, unsigned size, std::uint64_t value) {
    if (size != 4 || (offset != kOffsetRegSel && offset != kOffsetWindow)) {
        ++stats_.refused_accesses;
        report_once(kReportAccess,
                    "refused an access that is not 32 bits wide at IOREGSEL or IOWIN (offset {}): dropped", offset);
        return;
    }
    if (offset == kOffsetRegSel) {
        ioregsel_ = static_cast<std::uint8_t>(value);
    } else {
        write_register(ioregsel_, static_cast<std::uint32_t>(value));
    }
}

std::uint32_t IoApicModel::read_register(std::uint8_t index) {
    switch (index) {
        case kRegId: return static_cast<std::uint32_t>(id_) << 24;
        case kRegVersion: return kVersion;
        case kRegArbitration: return static_cast<std::uint32_t>(id_) << 24;  // loaded from the ID
        default: break;
    }
    if (index >= kRegTable && index < kRegTable + 2 * kPins) {
        std::uint64_t entry = entries_[(index - kRegTable) / 2];
        return static_cast<std::uint32_t>((index & 1) ? entry >> 32 : entry);
    }
    report_once(kReportRegister, "guest read register {}, which the 82093AA does not have: reads 0", index);
    return 0;
}

void IoApicModel::write_register(std::uint8_t index, std::uint32_t value) {
    if (index == kRegId) {
        id_ = static_cast<std::uint8_t>((value >> 24) & 0x0f);
        return;
    }
    if (index == kRegVersion || index == kRegArbitration) return;  // read-only
    if (index < kRegTable || index >= kRegTable + 2 * kPins) {
        report_once(kReportRegister, "guest wrote register {}, which the 82093AA does not have: dropped", index);
        return;
    }
    unsigned pin = (index - kRegTable) / 2;
    std::uint64_t& entry = entries_[pin];
    std::uint64_t read_only = entry & kEntryRemoteIrr;
    if (index & 1) {
        entry = (entry & 0xffffffffull) | ((static_cast<std::uint64_t>(value) << 32) & kEntryWritable);
        return;
    }
    entry = (entry & 0xffffffff'00000000ull) | (value & kEntryWritable & 0xffffffffull) | read_only;
    if (!(entry & kEntryLevel)) entry &= ~kEntryRemoteIrr;  // see the header: Linux's EOI for version 0x11
    service_level(pin);                                     // unmasking an asserted level-triggered pin delivers it
}

void IoApicModel::set_irq(unsigned pin, bool asserted) {
    if (pin >= kPins) {
        ++stats_.bad_pins;
        report_once(kReportPin, "a device drove pin {}, which does not exist (a tandem bug)", pin);
        return;
    }
    std::uint32_t bit = 1u << pin;
    bool was = (asserted_ & bit) != 0;
    asserted_ = asserted ? asserted_ | bit : asserted_ & ~bit;
    if (entries_[pin] & kEntryLevel) return service_level(pin);
    if (asserted && !was && !(entries_[pin] & kEntryMask)) deliver(pin);
}

void IoApicModel::service_level(unsigned pin) {
    std::uint64_t entry = entries_[pin];
    if ((entry & kEntryLevel) && !(entry & (kEntryMask | kEntryRemoteIrr)) && (asserted_ & (1u << pin))) deliver(pin);
}

void IoApicModel::end_of_interrupt(std::uint8_t vector) {
    for (unsigned pin = 0; pin < kPins; ++pin) {
        std::uint64_t& entry = entries_[pin];
        if ((entry & kEntryLevel) && (entry & kEntryRemoteIrr) && (entry & 0xff) == vector) {
            entry &= ~kEntryRemoteIrr;
            service_level(pin);
        }
    }
}

void IoApicModel::deliver(unsigned pin) {
    std::uint64_t entry = entries_[pin];
    unsigned mode = (entry >> 8) & 7;
    bool logical = (entry >> 11) & 1;
    auto destination = static_cast<std::uint8_t>(entry >> 56);
    if (mode != 0 && mode != 1) {  // fixed and lowest priority only (82093AA Table 3-4)
        ++stats_.unsupported_delivery;
        report_once(kReportDeliveryMode,
                    "an interrupt with a delivery mode tandem does not model (entry {}) was dropped", entry);
        return;
    }
    bool reaches_apic0 = logical ? (destination & 1) != 0 : destination == 0 || destination == 0xff;
    if (!reaches_apic0) {
        ++stats_.unreachable_destination;
        report_once(kReportDestination, "an interrupt for a destination without APIC 0 (entry {}) was dropped", entry);
        return;
    }
    bool level = (entry & kEntryLevel) != 0;
    if (!apic_.accept(static_cast<std::uint8_t>(entry & 0xff), level)) {
        ++stats_.refused_by_apic;
        return;
    }
    ++stats_.delivered;
    if (level) entries_[pin] |= kEntryRemoteIrr;
}

void IoApicModel::save_state(ByteWriter& out) const {
    out.put(ioregsel_);
    out.put(id_);
    out.put(asserted_);
    for (std::uint64_t e : entries_) out.put(e);
}

Status IoApicModel::restore_state(std::uint16_t version, std::span<const std::uint8_t> in) {
    if (version != 1) return Error::of("ioapic0: unsupported state version", version);
    ByteReader r(in);
    std::uint8_t ioregsel = 0, id = 0;
    std::uint32_t asserted = 0;
    std::uint64_t entries[kPins]{};
    bool ok = r.get(ioregsel) && r.get(id) && r.get(asserted);
    for (auto& e : entries) ok = ok && r.get(e);
    if (!ok) return Error::of("ioapic0: truncated state");
    if (r.remaining() != 0) return Error::of("ioapic0: trailing bytes in state", r.remaining());
    if (id > 0x0f) return Error::of("ioapic0: bad id in state", id);
    if (asserted >> kPins) return Error::of("ioapic0: pin levels beyond pin 23 in state", asserted);
    for (std::uint64_t e : entries) {
        // Remote IRR only on level-triggered entries (setting edge clears it).
        if ((e & ~(kEntryWritable | kEntryRemoteIrr)) || ((e & kEntryRemoteIrr) && !(e & kEntryLevel))) {
            return Error::of("ioapic0: bad redirection entry in state", e);
        }
    }
    ioregsel_ = ioregsel;
    id_ = id;
    asserted_ = asserted;
    for (unsigned i = 0; i < kPins; ++i) entries_[i] = entries[i];
    return success();
}

}  // namespace tandem
