#include "nic-drivers/pci/enumerate.hpp"

#include <array>

#include "nic-drivers/pci/bar_probe.hpp"

namespace tandem::pci {
namespace {

// Buses still to scan, each admitted once.
class BusQueue {
public:
    bool push(std::uint8_t bus) {
        std::uint64_t bit = 1ull << (bus % 64);
        if ((seen_[bus / 64] & bit) != 0) return false;
        seen_[bus / 64] |= bit;
        queue_[tail_++] = bus;  // at most kBuses pushes: each bus once
        return true;
    }
    bool empty() const { return head_ == tail_; }
    std::uint8_t pop() { return queue_[head_++]; }

private:
    std::array<std::uint64_t, kBuses / 64> seen_{};
    std::array<std::uint8_t, kBuses> queue_{};
    std::size_t head_ = 0;
    std::size_t tail_ = 0;
};

class Scanner {
public:
    Scanner(ConfigSpace& config, DeviceList& out) : config_(config), out_(out) {}

    void scan_bus(std::uint8_t bus) {
        ++summary_.buses;
        for (std::uint8_t dev = 0; dev < kDevicesPerBus; ++dev) {
            Address first{bus, dev, 0};
            if (config_.read16(first, reg::kVendorId) == kAbsentVendor) continue;
            bool multi = (config_.read8(first, reg::kHeaderType) & kHeaderMultiFunction) != 0;
            std::uint8_t functions = multi ? kFunctionsPerDevice : 1;
            for (std::uint8_t fn = 0; fn < functions; ++fn) scan_function({bus, dev, fn});
        }
    }

    void run(const ScanOptions& options) {
        if (options.all_buses) {
            for (unsigned bus = 0; bus < kBuses; ++bus) scan_bus(static_cast<std::uint8_t>(bus));
            return;
        }
        queue_.push(0);
        Address host{0, 0, 0};
        if (config_.read16(host, reg::kVendorId) != kAbsentVendor &&
            (config_.read8(host, reg::kHeaderType) & kHeaderMultiFunction) != 0) {
            for (std::uint8_t fn = 1; fn < kFunctionsPerDevice; ++fn) {
                Address f{0, 0, fn};
                if (config_.read16(f, reg::kVendorId) != kAbsentVendor &&
                    config_.read8(f, reg::kClass) == kClassBridge &&
                    config_.read8(f, reg::kSubclass) == kSubclassHostBridge) {
                    queue_.push(fn);
                }
            }
        }
        while (!queue_.empty()) scan_bus(queue_.pop());
    }

    ScanSummary summary() const { return summary_; }

private:
    void scan_function(Address at) {
        Device d;
        if (!read_function(config_, at, d)) return;
        ++summary_.functions;
        if (!out_.add(d)) ++summary_.dropped;
        // Bus 0 is never a secondary bus; an unconfigured bridge (secondary 0) leads nowhere.
        if (d.is_bridge() && d.secondary_bus != 0) queue_.push(d.secondary_bus);
    }

    ConfigSpace& config_;
    DeviceList& out_;
    BusQueue queue_;
    ScanSummary summary_;
};

void sort_by_address(std::span<Device> devices) {
    for (std::size_t i = 1; i < devices.size(); ++i) {  // insertion sort: at most 64 entries
        for (std::size_t j = i; j > 0 && devices[j].address.key() < devices[j - 1].address.key(); --j) {
            Device t = devices[j];
            devices[j] = devices[j - 1];
            devices[j - 1] = t;
        }
    }
}

}  // namespace

bool read_function(ConfigSpace& config, Address at, Device& out) {
    out = Device{};
    out.address = at;
    out.vendor = config.read16(at, reg::kVendorId);
    if (out.vendor == kAbsentVendor) return false;
    out.device = config.read16(at, reg::kDeviceId);
    out.revision = config.read8(at, reg::kRevision);
    out.prog_if = config.read8(at, reg::kProgIf);
    out.subclass = config.read8(at, reg::kSubclass);
    out.class_code = config.read8(at, reg::kClass);
    std::uint8_t header = config.read8(at, reg::kHeaderType);
    out.header_type = header & kHeaderLayoutMask;
    out.multifunction = (header & kHeaderMultiFunction) != 0;
    out.interrupt_line = config.read8(at, reg::kInterruptLine);
    out.interrupt_pin = config.read8(at, reg::kInterruptPin);
    switch (static_cast<HeaderType>(out.header_type)) {
        case HeaderType::general:
            out.bar_count = kBarsGeneral;
            out.subsystem_vendor = config.read16(at, reg::kSubsystemVendorId);
            out.subsystem = config.read16(at, reg::kSubsystemId);
            break;
        case HeaderType::pci_bridge:
            out.bar_count = kBarsBridge;
            out.secondary_bus = config.read8(at, reg::kSecondaryBus);
            out.subordinate_bus = config.read8(at, reg::kSubordinateBus);
            break;
        default: break;  // CardBus and unknown layouts: identity only
    }
    probe_bars(config, at, {out.bars, out.bar_count});
    return true;
}

ScanSummary enumerate(ConfigSpace& config, DeviceList& out, const ScanOptions& options) {
    out.clear();
    Scanner scanner(config, out);
    scanner.run(options);
    sort_by_address(out.devices());
    return scanner.summary();
}

}  // namespace tandem::pci
