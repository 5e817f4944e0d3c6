#include "replication/sessions/guest_network.hpp"

namespace tandem::sessions {

void GuestNetwork::on_tick() {
    if (receiving_) client_.receive(*this, 64);
    device_.process_transmit();
}

void GuestNetwork::frame(nic::Frame f) {
    if (f.size() < 14) return;
    if (control_ != nullptr && control_->handle(f)) return;
    bool group = f[0] & 1;  // broadcast or multicast
    bool ours = true;
    for (int i = 0; i < 6; ++i) ours = ours && f[static_cast<std::size_t>(i)] == mac_.bytes[i];
    if (!group && !ours) {
        ++other_;  // the client NIC is promiscuous: frames for other hosts are not the guest's
        return;
    }
    if (tap_ != nullptr) {
        tap_->guest_input(f);
        return;
    }
    device_.deliver(f);
}

}  // namespace tandem::sessions
