#include "nic-drivers/registry.hpp"

#include "nic-drivers/pci/command.hpp"

namespace tandem::nic {
namespace {

constexpr std::uint16_t kIntel = 0x8086;

// The 8254x parts whose EERD has the 82540 layout and whose copper PHY links up with CTRL.SLU
// (8254x SDM §1.1 device table; QEMU's and Bochs' "e1000" is 8086:100e).
Result<Nic*> probe_e1000(const NicDriver& self, const NicResources& r, NicSlot& slot) {
    if (self.register_bar >= r.device.bar_count) return Error::of("e1000: device has no BAR0", self.register_bar);
    const pci::Bar& bar = r.device.bars[self.register_bar];
    if (!bar.is_memory() || bar.size < e1000::kRegisterWindow) {
        return Error::of("e1000: BAR0 is not a 128 KiB memory BAR", bar.size);
    }
    if (r.registers.size() < e1000::kRegisterWindow) {
        return Error::of("e1000: register window smaller than 128 KiB", r.registers.size());
    }
    std::uint16_t cmd = pci::enable_function(r.config, r.device.address, pci::Enable{});
    auto needed = static_cast<std::uint16_t>(pci::command::kMemorySpace | pci::command::kBusMaster);
    if ((cmd & needed) != needed)
        return Error::of("e1000: PCI command register refused memory decode or bus mastering", cmd);
    slot.e1000.reset();
    slot.e1000.emplace(r.registers, r.dma, r.delay, NicIdentity{self.model, true, r.device.address});
    if (auto s = slot.e1000->start(r.options); !s) {
        slot.e1000.reset();
        return s.error();
    }
    return static_cast<Nic*>(&*slot.e1000);
}

constexpr NicDriver kDrivers[] = {
    {kIntel, 0x100e, "e1000", "82540EM", 0, probe_e1000},
    {kIntel, 0x1015, "e1000", "82540EM LOM", 0, probe_e1000},
    {kIntel, 0x1016, "e1000", "82540EP LOM", 0, probe_e1000},
    {kIntel, 0x1017, "e1000", "82540EP", 0, probe_e1000},
    {kIntel, 0x101e, "e1000", "82540EP mobile", 0, probe_e1000},
    {kIntel, 0x100f, "e1000", "82545EM", 0, probe_e1000},
};

}  // namespace

std::span<const NicDriver> nic_drivers() { return kDrivers; }

const NicDriver* match_nic_driver(std::uint16_t vendor, std::uint16_t device) {
    for (const NicDriver& d : kDrivers) {
        if (d.vendor == vendor && d.device == device) return &d;
    }
    return nullptr;
}

bool selector_matches(const NicSelector& selector, const pci::Address& at, const MacAddress* mac) {
    switch (selector.kind) {
        case NicSelector::Kind::pci:
            return selector.bus == at.bus && selector.device == at.device && selector.function == at.function;
        case NicSelector::Kind::mac:
            if (mac == nullptr) return false;
            for (std::size_t i = 0; i < sizeof(mac->bytes); ++i) {
                if (selector.mac.bytes[i] != mac->bytes[i]) return false;
            }
            return true;
        case NicSelector::Kind::none: break;
    }
    return false;
}

}  // namespace tandem::nic
