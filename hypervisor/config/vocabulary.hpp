// The words every layer uses for what this machine does: its role in a pair, the operating
// mode, how dirty pages are tracked and how epochs are captured. Parsed from the command line by
// config.cpp (which also names them); kept apart from the parser so that the NIC drivers, the
// link and the replication engine do not depend on it.
#pragma once

#include <cstdint>

#include "hypervisor/net/mac_address.hpp"

namespace tandem {

enum class Role : std::uint8_t { primary, backup };
enum class Mode : std::uint8_t { standalone, checkpoint, lockstep, migrate, linktest };
// What a pair does with the guest, agreed in the link's handshake: both sides must do the same (a
// lockstep primary forwards client input that a checkpoint backup would not run).
enum class PairMode : std::uint8_t { checkpoint = 0, lockstep = 1 };
enum class DirtyTracking : std::uint8_t { automatic, pml, ad_bits, write_protect };
// Where checkpoints go: the peer over the replication link, or a backup image on this machine.
enum class PeerChoice : std::uint8_t { link, local };
enum class CaptureChoice : std::uint8_t { cow, copy };
// A NIC chosen by PCI address (bus:device.function) or by MAC address.
struct NicSelector {
    enum class Kind : std::uint8_t { none, pci, mac } kind = Kind::none;
    std::uint8_t bus = 0, device = 0, function = 0;
    MacAddress mac{};
};

const char* role_name(Role r);
const char* mode_name(Mode m);
const char* dirty_tracking_name(DirtyTracking d);

}  // namespace tandem
