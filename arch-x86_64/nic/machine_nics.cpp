#include "arch-x86_64/nic/machine_nics.hpp"

#include <new>

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "arch-x86_64/nic/machine_pci.hpp"
#include "arch-x86_64/paging/host_paging.hpp"
#include "hypervisor/console/console.hpp"
#include "nic-drivers/registry.hpp"

namespace tandem::x86 {
namespace {

// Ring and buffer memory: frames of the allocator, identity-mapped write-back RAM (x86 DMA is
// cache-coherent), never mapped into the guest.
class FrameDma final : public nic::DmaMemory {
public:
    explicit FrameDma(FrameAllocator& frames) : frames_(frames) {}
    Result<nic::DmaBuffer> allocate(std::size_t size) override {
        std::uint64_t rounded = align_up(size, kPageSize);
        auto at = frames_.allocate(rounded, nic::kDmaAlignment);
        if (!at) return at.error();
        return nic::DmaBuffer{reinterpret_cast<std::uint8_t*>(*at), *at, static_cast<std::size_t>(rounded)};
    }
    void release(const nic::DmaBuffer& buffer) override { (void)frames_.release(buffer.phys, buffer.size); }

private:
    FrameAllocator& frames_;
};

class TscDelay final : public nic::Delay {
public:
    explicit TscDelay(std::uint64_t khz) : khz_(khz == 0 ? 1'000'000 : khz) {}
    void microseconds(std::uint32_t us) override {
        std::uint64_t until = rdtsc() + khz_ * us / 1000;
        while (rdtsc() < until) pause();
    }

private:
    std::uint64_t khz_;
};

constexpr std::size_t kMaxNics = 4;

struct Probed {
    nic::NicSlot slot;
    pci::Address address{};
    nic::Nic* nic = nullptr;
};

void list_nics(Writer& out, const Probed* probed, std::size_t count) {
    if (count == 0) print(out, " none");
    for (std::size_t i = 0; i < count; ++i) {
        nic::NicInfo info = probed[i].nic->info();
        print(out, " {}:{}.{} ({})", hex_digits(probed[i].address.bus), hex_digits(probed[i].address.device),
              probed[i].address.function, ColonHex{info.mac.bytes, 6});
    }
}

// The NIC a selector names, or (no selector) the first one not already taken.
Result<nic::Nic*> choose(const char* key, const NicSelector& selector, Probed* probed, std::size_t count,
                         const nic::Nic* taken) {
    for (std::size_t i = 0; i < count; ++i) {
        nic::NicInfo info = probed[i].nic->info();
        bool match = selector.kind == NicSelector::Kind::none ? probed[i].nic != taken
                                                               : nic::selector_matches(selector, probed[i].address, &info.mac);
        if (match) return probed[i].nic;
    }
    Writer& out = console();
    print(out, "nic: {}: no suitable NIC{} (NICs found:", key,
          selector.kind == NicSelector::Kind::none ? " left" : " matches the value given");
    list_nics(out, probed, count);
    println(out, ")");
    return Error::of("the NIC for the replication link or the client network is missing");
}

}  // namespace

Result<MachineNics> setup_nics(const Config& config, FrameAllocator& frames, std::uint64_t tsc_khz, bool need_link,
                               bool need_client) {
    Writer& out = console();
    // Enumerated and listed in the boot report, through ECAM or mechanism #1 (machine_pci.hpp).
    MachinePci pci = machine_pci();
    pci::ConfigSpace& config_space = pci.config;
    const pci::DeviceList& devices = pci.devices;

    static FrameDma dma(frames);
    static TscDelay delay(tsc_khz);
    static Probed probed[kMaxNics];
    static nic::VolatileMmioWindow* windows[kMaxNics]{};
    alignas(nic::VolatileMmioWindow) static std::uint8_t window_storage[kMaxNics][sizeof(nic::VolatileMmioWindow)];
    std::size_t count = 0;
    for (const pci::Device& d : devices.devices()) {
        const nic::NicDriver* driver = nic::match_nic_driver(d.vendor, d.device);
        if (driver == nullptr || count == kMaxNics) continue;
        const pci::Bar& bar = d.bars[driver->register_bar];
        if (bar.kind != pci::BarKind::memory32 && bar.kind != pci::BarKind::memory64) {
            println(out, "nic: {}:{}.{}: register BAR is not memory: skipped", hex_digits(d.address.bus), hex_digits(d.address.device),
                    d.address.function);
            continue;
        }
        if (auto s = map_device_memory(bar.base, bar.size); !s) {
            println(out, "nic: mapping the registers at {} failed: {}", hex(bar.base), s.error());
            continue;
        }
        windows[count] = new (window_storage[count])
            nic::VolatileMmioWindow(reinterpret_cast<volatile std::uint32_t*>(bar.base), static_cast<std::uint32_t>(bar.size));
        nic::NicOptions options;
        options.promiscuous = true;  // the client NIC carries the guest's own MAC; harmless on the link
        auto nic = nic::probe_nic(*driver, {config_space, d, *windows[count], dma, delay, options}, probed[count].slot);
        if (!nic) {
            println(out, "nic: {}:{}.{} {} {}: {}", hex_digits(d.address.bus), hex_digits(d.address.device), d.address.function,
                    driver->driver, driver->model, nic.error());
            continue;
        }
        probed[count].address = d.address;
        probed[count].nic = *nic;
        nic::print_info(out, (*nic)->info(), (*nic)->link_up());
        ++count;
    }

    MachineNics result;
    result.probed = count;
    if (need_link || config.link_nic.kind != NicSelector::Kind::none) {
        auto link = choose("link_nic", config.link_nic, probed, count, nullptr);
        if (!link) return link.error();
        result.link = *link;
    }
    if (need_client || config.client_nic.kind != NicSelector::Kind::none) {
        auto client = choose("client_nic", config.client_nic, probed, count, result.link);
        if (!client) return client.error();
        result.client = *client;
    }
    return result;
}

}  // namespace tandem::x86
