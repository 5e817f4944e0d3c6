#include "replication/sessions/takeover.hpp"

#include "hypervisor/net/gratuitous_arp.hpp"

namespace tandem::sessions {
namespace {
constexpr int kGratuitousArps = 3;
}  // namespace

namespace {
// The blobs as the device set takes them; false if there are more than a checkpoint can hold.
bool as_saved_states(std::span<const checkpoint::DeviceStateBlob> blobs, SavedDeviceState (&out)[checkpoint::BackupImage::kMaxDevices]) {
    if (blobs.size() > checkpoint::BackupImage::kMaxDevices) return false;
    for (std::size_t i = 0; i < blobs.size(); ++i) out[i] = {blobs[i].id, blobs[i].version, {blobs[i].bytes, blobs[i].size}};
    return true;
}
}  // namespace

Status restore_committed_state(SessionMachine& machine, const checkpoint::BackupImage& image) {
    // The device set is checked before anything changes: a refused takeover leaves the vCPU as
    // it was.
    std::span<const checkpoint::DeviceStateBlob> saved = image.committed_devices();
    SavedDeviceState states[checkpoint::BackupImage::kMaxDevices];
    if (!as_saved_states(saved, states)) return Error::of("devices: the saved state holds too many models", saved.size());
    DeviceSet& devices = machine.guest_machine().devices();
    if (auto s = devices.check({states, saved.size()}); !s) return s;
    if (auto s = machine.restore_cpu(image.committed_cpu()); !s) return s;
    return devices.restore({states, saved.size()});
}

void announce_guest(SessionMachine& machine) {
    const Config& config = machine.config();
    Writer& out = machine.out();
    nic::Nic* client = machine.client_nic();
    if (!config.has_guest_mac || client == nullptr) return;
    if (!config.has_guest_ip) {
        println(out, "pair: no guest_ip=: the guest's address is not announced (clients find it by ARP)");
        return;
    }
    std::uint8_t garp[net::kGratuitousArpSize];
    net::build_gratuitous_arp(garp, config.guest_mac, config.guest_ip);
    for (int i = 0; i < kGratuitousArps; ++i) {
        nic::Frame f = garp;
        client->transmit({&f, 1});
    }
    println(out, "pair: announced the guest at {}.{}.{}.{} ({}) with {} gratuitous ARPs", config.guest_ip[0],
            config.guest_ip[1], config.guest_ip[2], config.guest_ip[3], ColonHex{config.guest_mac.bytes, 6},
            kGratuitousArps);
}

}  // namespace tandem::sessions
