#include "nic-drivers/nic.hpp"

namespace tandem::nic {

RxCopyResult receive_into(Nic& nic, std::span<RxSlot> slots) {
    RxCopyResult result;
    receive_with(nic, slots.size(), [&](Frame f) {
        RxSlot& slot = slots[result.stored];
        if (f.size() > slot.buffer.size()) {
            ++result.too_long;
            return;
        }
        for (std::size_t i = 0; i < f.size(); ++i) slot.buffer[i] = f[i];
        slot.length = f.size();
        ++result.stored;
    });
    return result;
}

void print_info(Writer& w, const NicInfo& info, bool link_up) {
    print(w, "nic: {} {}", info.driver, info.model);
    if (info.on_pci) print(w, " at {}", info.pci);
    println(w, " mac {} mtu {} link {} rx {} tx {}", ColonHex{info.mac.bytes, sizeof(info.mac.bytes)}, info.mtu,
            link_up ? "up" : "down", info.rx_ring, info.tx_ring);
}

void print_counters(Writer& w, const NicCounters& c) {
    println(w, "nic: tx {} frames {} ({} dropped, {} errors) rx {} frames {} ({} dropped, {} errors, {} missed)",
            c.tx_frames, Bytes{c.tx_bytes}, c.tx_dropped, c.tx_errors, c.rx_frames, Bytes{c.rx_bytes}, c.rx_dropped,
            c.rx_errors, c.rx_missed);
}

}  // namespace tandem::nic
