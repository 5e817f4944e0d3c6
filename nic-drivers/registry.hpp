// Drivers chosen by PCI vendor:device, as BitVisor does: a table of ids, each with the BAR that
// holds the registers and a probe function that builds the driver in caller-provided storage
// (no heap). The arch layer's part, per device in the enumeration list:
//
//   const NicDriver* d = match_nic_driver(dev.vendor, dev.device);   // nullptr: not a NIC we drive
//   const pci::Bar& bar = dev.bars[d->register_bar];                 // d->register_bar < dev.bar_count
//   map [bar.base, bar.base + bar.size) uncached, wrap it:  VolatileMmioWindow window(ptr, size);
//   Result<Nic*> nic = probe_nic(*d, NicResources{config, dev, window, dma, delay, options}, slot);
//
// The probe enables memory decode and bus mastering (and disables INTx) in the PCI command
// register itself, resets the device and starts it; the window, DMA memory, delay and slot
// must outlive the NIC.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "hypervisor/config/vocabulary.hpp"
#include "nic-drivers/delay.hpp"
#include "nic-drivers/dma.hpp"
#include "nic-drivers/e1000/e1000.hpp"
#include "nic-drivers/mmio.hpp"
#include "nic-drivers/nic.hpp"
#include "nic-drivers/pci/config_space.hpp"
#include "nic-drivers/pci/device.hpp"

namespace tandem::nic {

struct NicResources {
    pci::ConfigSpace& config;
    const pci::Device& device;
    MmioWindow& registers;  // the match's register_bar, mapped uncached
    DmaMemory& dma;
    Delay& delay;
    NicOptions options{};
};

// Storage for one NIC of any supported kind. Holds at most one driver object.
struct NicSlot {
    std::optional<E1000> e1000;

    Nic* nic() { return e1000 ? &*e1000 : nullptr; }
};

struct NicDriver {
    std::uint16_t vendor;
    std::uint16_t device;
    const char* driver;  // "e1000"
    const char* model;   // "82540EM"
    std::uint8_t register_bar;
    Result<Nic*> (*probe)(const NicDriver& self, const NicResources& resources, NicSlot& slot);
};

std::span<const NicDriver> nic_drivers();
const NicDriver* match_nic_driver(std::uint16_t vendor, std::uint16_t device);

inline Result<Nic*> probe_nic(const NicDriver& driver, const NicResources& resources, NicSlot& slot) {
    return driver.probe(driver, resources, slot);
}

// Whether a link_nic= / client_nic= selector names this NIC: by PCI address before probing,
// by MAC address (pass the probed NIC's address) after. A selector of kind none matches nothing.
bool selector_matches(const NicSelector& selector, const pci::Address& at, const MacAddress* mac);

}  // namespace tandem::nic
