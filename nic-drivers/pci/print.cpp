#include "nic-drivers/pci/print.hpp"

#include "nic-drivers/pci/class_names.hpp"

namespace tandem::pci {
namespace {

// Fixed-width lower-case hex without a prefix, as lspci prints ids.
struct Digits {
    std::uint32_t value;
    unsigned width;
};

void put_digits(Writer& w, Digits d) {
    static constexpr char kHex[] = "0123456789abcdef";
    char out[8];
    unsigned n = d.width > 8 ? 8 : d.width;
    for (unsigned i = 0; i < n; ++i) out[n - 1 - i] = kHex[(d.value >> (4 * i)) & 0xf];
    w.write({out, n});
}

Digits hex2(std::uint8_t v) { return {v, 2}; }
Digits hex4(std::uint16_t v) { return {v, 4}; }

char pin_name(std::uint8_t pin) { return pin >= 1 && pin <= 4 ? static_cast<char>('A' + pin - 1) : '?'; }

const char* bar_kind_name(BarKind k) {
    switch (k) {
        case BarKind::memory32: return "mem32";
        case BarKind::memory64: return "mem64";
        case BarKind::io: return "io";
        case BarKind::none: break;
    }
    return "none";
}

}  // namespace

void put(Writer& w, const Address& a) {
    put_digits(w, hex2(a.bus));
    w.write(":");
    put_digits(w, Digits{a.device, 2});
    w.write(".");
    put_digits(w, Digits{a.function, 1});
}

void print_device(Writer& w, const Device& d) {
    print(w, "pci: {} ", d.address);
    put_digits(w, hex4(d.vendor));
    w.write(":");
    put_digits(w, hex4(d.device));
    w.write(" class ");
    put_digits(w, hex2(d.class_code));
    w.write(".");
    put_digits(w, hex2(d.subclass));
    print(w, " ({})", class_name(d.class_code, d.subclass));
    if (d.prog_if != 0) {
        w.write(" prog-if ");
        put_digits(w, hex2(d.prog_if));
    }
    w.write(" rev ");
    put_digits(w, hex2(d.revision));
    if (d.interrupt_pin != 0) print(w, " irq {} pin {}", d.interrupt_line, pin_name(d.interrupt_pin));
    if (d.is_bridge()) {
        w.write(" bus ");
        put_digits(w, hex2(d.secondary_bus));
        w.write("-");
        put_digits(w, hex2(d.subordinate_bus));
    }
    for (std::size_t i = 0; i < d.bar_count; ++i) {
        const Bar& b = d.bars[i];
        if (!b.present()) continue;
        print(w, " BAR{} {}{} {} size {}", i, bar_kind_name(b.kind), b.prefetchable ? " pf" : "", hex(b.base),
              Bytes{b.size});
    }
    w.write("\n");
}

void print_devices(Writer& w, const DeviceList& list) {
    for (const Device& d : list.devices()) print_device(w, d);
    if (list.dropped() != 0)
        println(w, "pci: {} more functions not listed (list holds {})", list.dropped(), DeviceList::kCapacity);
}

}  // namespace tandem::pci
