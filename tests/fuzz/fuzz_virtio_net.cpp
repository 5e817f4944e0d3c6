// libFuzzer: the virtio-net device (hypervisor/devices/virtio/virtio_net.hpp) driven by a hostile
// guest. The device is brought up as a driver would (two 8-entry queues in 64 KiB of guest RAM),
// then the input is a program of operations: guest RAM writes (rings, descriptors, indirect
// tables), register writes and reads of any width, frames arriving, transmit polls, interrupt
// acknowledgements, link changes, checkpoints (save, restore into a twin and back) and restores
// of arbitrary state bytes. ASan/UBSan must stay quiet, every access stays inside guest RAM, the
// interrupt line always equals "InterruptStatus != 0" (level-triggered, §4.2.2), a saved state
// restores to the same bytes, and a refused one leaves the device unchanged (DESIGN §6).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "hypervisor/devices/virtio/virtio_net.hpp"

namespace {

constexpr std::uint64_t kRam = 64 * 1024, kHostBase = 0x1000'0000;
constexpr unsigned kPin = 20;

class Window final : public tandem::HostMemoryWindow {
public:
    std::uint8_t* at(std::uint64_t hpa, std::size_t length) const override {
        if (hpa < kHostBase || hpa - kHostBase > kRam || length > kRam - (hpa - kHostBase)) return nullptr;
        return const_cast<std::uint8_t*>(bytes) + (hpa - kHostBase);
    }
    std::uint8_t bytes[kRam]{};
};

class Lines final : public tandem::IrqLines {
public:
    void set_irq(unsigned pin, bool asserted) override {
        if (pin != kPin) __builtin_trap();
        level = asserted;
    }
    bool level = false;
};

class NullWriter final : public tandem::Writer {
public:
    void write(std::string_view) override {}
};

class Sink final : public tandem::virtio::NetBackend {
public:
    bool transmit(std::span<const std::uint8_t> frame) override {
        if (frame.size() > tandem::virtio::VirtioMmioNet::kMaxFrame) __builtin_trap();
        ++calls;
        return (calls % 5) != 0;  // now and then busy
    }
    unsigned calls = 0;
};

std::vector<std::uint8_t> save(const tandem::virtio::VirtioMmioNet& d) {
    std::vector<std::uint8_t> out(1024);
    tandem::ByteWriter w(out);
    d.save_state(w);
    if (w.overflow()) __builtin_trap();
    out.resize(w.size());
    return out;
}

struct Input {
    const std::uint8_t* data;
    std::size_t size, at = 0;
    bool more() const { return at < size; }
    std::uint8_t u8() { return at < size ? data[at++] : 0; }
    std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | u8() << 8); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(u16() | static_cast<std::uint32_t>(u16()) << 16); }
};

const std::uint8_t kMac[6] = {2, 0, 0, 0, 0, 1};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Window window;
    std::memset(window.bytes, 0, sizeof window.bytes);
    tandem::GuestMemory memory(window);
    if (!memory.append(kHostBase, kRam)) __builtin_trap();
    Sink sink;
    NullWriter log;
    Lines lines, twin_lines;
    tandem::virtio::VirtioMmioNet dev(memory, sink, kMac, log), twin(memory, sink, kMac, log);
    dev.set_interrupt_line(&lines, kPin);
    twin.set_interrupt_line(&twin_lines, kPin);

    auto w = [&](std::uint64_t off, std::uint32_t v) { dev.mmio_write(off, 4, v); };
    // Bring-up: reset, ACK | DRIVER, MAC + STATUS + INDIRECT + VERSION_1, FEATURES_OK, queues, DRIVER_OK.
    w(0x070, 0);
    w(0x070, 3);
    w(0x024, 1);
    w(0x020, 1);
    w(0x024, 0);
    w(0x020, (1u << 5) | (1u << 16) | (1u << 28));
    w(0x070, 11);
    for (std::uint32_t q = 0; q < 2; ++q) {
        std::uint32_t base = 0x1000 + q * 0x1000;
        w(0x030, q);
        w(0x038, 8);
        w(0x080, base);
        w(0x090, base + 0x100);
        w(0x0a0, base + 0x200);
        w(0x044, 1);
    }
    w(0x070, 15);
    if (!dev.driver_ready()) __builtin_trap();

    Input in{data, size};
    std::uint8_t frame[1600];
    for (unsigned steps = 0; in.more() && steps < 512; ++steps) {
        switch (in.u8() % 9) {
            case 0: {  // guest RAM write
                std::uint16_t gpa = in.u16();
                std::size_t n = in.u8() % 64;
                for (std::size_t i = 0; i < n && gpa + i < kRam; ++i) window.bytes[gpa + i] = in.u8();
                break;
            }
            case 1: {
                std::uint64_t off = (in.u8() * 4u) % tandem::virtio::VirtioMmioNet::kSize;
                dev.mmio_write(off, 4, in.u32());
                break;
            }
            case 2: {
                std::uint64_t off = in.u16() % tandem::virtio::VirtioMmioNet::kSize;
                static constexpr unsigned kSizes[] = {1, 2, 4, 8};
                (void)dev.mmio_read(off, kSizes[in.u8() % 4]);
                break;
            }
            case 3: {
                std::size_t n = in.u16() % sizeof frame;
                std::memset(frame, in.u8(), n);
                (void)dev.deliver({frame, n});
                break;
            }
            case 4: dev.process_transmit(); break;
            case 5: dev.mmio_write(0x064, 4, static_cast<std::uint32_t>(dev.mmio_read(0x060, 4))); break;
            case 6: {  // checkpoint: save, restore into the twin and back; all saves agree
                auto s = save(dev);
                if (!twin.restore_state(dev.state_version(), s)) __builtin_trap();
                if (save(twin) != s || twin_lines.level != lines.level) __builtin_trap();
                if (!dev.restore_state(dev.state_version(), s) || save(dev) != s) __builtin_trap();
                break;
            }
            case 7: dev.set_link_up(in.u8() & 1); break;
            default: {  // arbitrary state bytes into the twin
                std::uint16_t version = in.u8() % 4;
                std::size_t n = in.u8();
                std::vector<std::uint8_t> bytes;
                for (std::size_t i = 0; i < n; ++i) bytes.push_back(in.u8());
                auto before = save(twin);
                if (twin.restore_state(version, bytes)) {
                    if (version == 2 && save(twin) != bytes) __builtin_trap();
                    twin.process_transmit();
                    (void)twin.deliver({frame, 60});
                } else if (save(twin) != before) {
                    __builtin_trap();
                }
                break;
            }
        }
        if (lines.level != (dev.interrupt_status() != 0)) __builtin_trap();
        if (twin_lines.level != (twin.interrupt_status() != 0)) __builtin_trap();
    }
    return 0;
}
