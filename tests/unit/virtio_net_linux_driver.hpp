// What the virtio-net tests against Linux's driver (test_virtio_net_linux_*.cpp) share: the
// virtio-mmio registers and bits as Linux's uapi headers name them, a host "driver" that does what
// Linux 6.1 does (drivers/virtio/virtio_mmio.c, virtio_ring.c, drivers/net/virtio_net.c): its probe
// sequence, its split rings laid out by vring_create_virtqueue, small receive buffers
// (add_recvbuf_small), transmissions in one descriptor, chained or indirect, its interrupt handler
// (vm_interrupt: read InterruptStatus, acknowledge it, scan the rings) and
// VRING_AVAIL_F_NO_INTERRUPT; and a rig that wires the device (hypervisor/devices/virtio/
// virtio_net.hpp) to guest RAM over a host buffer, a backend and an interrupt line.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "hypervisor/devices/virtio/virtio_net.hpp"
#include "tests/unit/device_fakes.hpp"
#include "tests/unit/helpers.hpp"
#include "tests/unit/vmx_fake_host_memory.hpp"

namespace virtio_linux_test {

using tandem::virtio::VirtioMmioNet;
using Bytes = std::vector<std::uint8_t>;

// Registers (§4.2.2) and bits, as Linux's uapi headers name them.
inline constexpr std::uint64_t kMagic = 0x000, kVersion = 0x004, kDeviceId = 0x008, kDeviceFeatures = 0x010,
                               kDeviceFeaturesSel = 0x014, kDriverFeatures = 0x020, kDriverFeaturesSel = 0x024,
                               kQueueSel = 0x030, kQueueNumMax = 0x034, kQueueNum = 0x038, kQueueReady = 0x044,
                               kQueueNotify = 0x050, kInterruptStatus = 0x060, kInterruptAck = 0x064,
                               kStatus = 0x070, kQueueDescLow = 0x080, kQueueDescHigh = 0x084,
                               kQueueAvailLow = 0x090, kQueueAvailHigh = 0x094, kQueueUsedLow = 0x0a0,
                               kQueueUsedHigh = 0x0a4, kConfigGeneration = 0x0fc, kConfig = 0x100;
inline constexpr std::uint32_t kAck = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8, kNeedsReset = 64;
inline constexpr std::uint64_t kFMac = 1ull << 5, kFStatus = 1ull << 16, kFIndirect = 1ull << 28,
                               kFEventIdx = 1ull << 29, kFVersion1 = 1ull << 32, kFCsum = 1ull << 0,
                               kFMrgRxbuf = 1ull << 15, kFRingPacked = 1ull << 34;
inline constexpr std::uint16_t kNext = 1, kWrite = 2, kIndirect = 4;
inline constexpr unsigned kPin = 17;
inline constexpr std::uint64_t kRam = 8ull << 20, kHostBase = 0x4000'0000;
inline constexpr std::uint32_t kHdr = 12, kGoodPacketLen = 1518;
inline constexpr std::uint8_t kMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

struct Backend final : tandem::virtio::NetBackend {
    bool transmit(std::span<const std::uint8_t> frame) override {
        if (busy) return false;
        frames.emplace_back(frame.begin(), frame.end());
        return true;
    }
    bool busy = false;
    std::vector<Bytes> frames;
};

inline Bytes frame_of(std::uint8_t id, std::size_t size = 64) {
    Bytes f(size);
    for (std::size_t i = 0; i < size; ++i) f[i] = static_cast<std::uint8_t>(id + i * 7);
    return f;
}

// One split ring as Linux's vring_create_virtqueue lays it out for virtio-mmio
// (VIRTIO_MMIO_VRING_ALIGN = PAGE_SIZE): descriptors, the avail ring straight after, the used
// ring on the next page boundary; plus the driver's own bookkeeping (free list, last_used).
struct Ring {
    std::uint64_t desc = 0, avail = 0, used = 0;
    std::uint16_t num = 0, avail_idx = 0, last_used = 0, free_head = 0, num_free = 0;
    std::vector<std::uint16_t> next_free;
};

class LinuxDriver {
public:
    LinuxDriver(VirtioMmioNet& dev, tandem::GuestMemory& mem) : dev_(dev), mem_(mem) {}

    std::uint32_t r32(std::uint64_t off) { return static_cast<std::uint32_t>(dev_.mmio_read(off, 4)); }
    void w32(std::uint64_t off, std::uint32_t v) { dev_.mmio_write(off, 4, v); }
    void add_status(std::uint32_t s) { w32(kStatus, (r32(kStatus) & 0xff) | s); }  // virtio_add_status

    template <class T>
    T load(std::uint64_t gpa) {
        auto v = mem_.load<T>(gpa);
        REQUIRE(v);
        return *v;
    }
    template <class T>
    void store(std::uint64_t gpa, T v) {
        REQUIRE(mem_.store<T>(gpa, v));
    }
    void write_desc(std::uint64_t at, std::uint64_t addr, std::uint32_t len, std::uint16_t flags, std::uint16_t next) {
        store<std::uint64_t>(at, addr);
        store<std::uint32_t>(at + 8, len);
        store<std::uint16_t>(at + 12, flags);
        store<std::uint16_t>(at + 14, next);
    }

    // register_virtio_device + virtio_dev_probe + virtnet_probe up to find_vqs; true if the
    // device took the features. `extra` adds feature bits the driver accepts regardless.
    bool probe(std::uint64_t extra = 0, bool drop_version1 = false) {
        REQUIRE(r32(kMagic) == 0x74726976);
        REQUIRE(r32(kVersion) == 2);
        REQUIRE(r32(kDeviceId) == 1);
        w32(kStatus, 0);  // virtio_reset_device
        add_status(kAck);
        add_status(kDriver);
        // vm_get_features: page 1 first, then page 0.
        w32(kDeviceFeaturesSel, 1);
        std::uint64_t offered = static_cast<std::uint64_t>(r32(kDeviceFeatures)) << 32;
        w32(kDeviceFeaturesSel, 0);
        offered |= r32(kDeviceFeatures);
        device_features = offered;
        // virtnet's feature table and vring_transport_features, intersected with the offer.
        constexpr std::uint64_t linux_knows = kFMac | kFStatus | kFCsum | kFMrgRxbuf | kFIndirect | kFEventIdx |
                                              kFVersion1 | kFRingPacked;
        features = (offered & linux_knows) | extra;
        if (drop_version1) features &= ~kFVersion1;
        // vm_finalize_features: page 1 first, then page 0.
        w32(kDriverFeaturesSel, 1);
        w32(kDriverFeatures, static_cast<std::uint32_t>(features >> 32));
        w32(kDriverFeaturesSel, 0);
        w32(kDriverFeatures, static_cast<std::uint32_t>(features));
        add_status(kFeaturesOk);  // virtio_features_ok
        if (!(r32(kStatus) & kFeaturesOk)) return false;
        // virtio_cread_bytes of the MAC: byte reads inside a generation loop.
        std::uint32_t gen = 0;
        do {
            gen = r32(kConfigGeneration);
            for (unsigned i = 0; i < 6; ++i) mac[i] = static_cast<std::uint8_t>(dev_.mmio_read(kConfig + i, 1));
        } while (gen != r32(kConfigGeneration));
        return true;
    }

    void setup_vq(unsigned index, Ring& q, std::uint64_t base) {
        w32(kQueueSel, index);
        REQUIRE(r32(kQueueReady) == 0);
        std::uint32_t num = r32(kQueueNumMax);
        REQUIRE(num != 0);
        q = Ring{};
        q.num = static_cast<std::uint16_t>(num);
        q.desc = base;
        q.avail = base + 16ull * num;
        q.used = (q.avail + 6 + 2ull * num + 4095) & ~4095ull;
        REQUIRE(mem_.fill(base, 0, q.used + 6 + 8ull * num - base));
        q.next_free.resize(num);
        for (std::uint16_t i = 0; i < num; ++i) q.next_free[i] = static_cast<std::uint16_t>(i + 1);
        q.num_free = q.num;
        w32(kQueueNum, num);
        w32(kQueueDescLow, static_cast<std::uint32_t>(q.desc));
        w32(kQueueDescHigh, static_cast<std::uint32_t>(q.desc >> 32));
        w32(kQueueAvailLow, static_cast<std::uint32_t>(q.avail));
        w32(kQueueAvailHigh, static_cast<std::uint32_t>(q.avail >> 32));
        w32(kQueueUsedLow, static_cast<std::uint32_t>(q.used));
        w32(kQueueUsedHigh, static_cast<std::uint32_t>(q.used >> 32));
        w32(kQueueReady, 1);
        REQUIRE(r32(kQueueReady) == 1);
    }

    // The whole bring-up: probe, find_vqs (rx0, tx0), DRIVER_OK, then virtnet_open's rx fill.
    void bring_up(unsigned rx_buffers = 16) {
        REQUIRE(probe());
        setup_vq(0, rx, kRxRing);
        setup_vq(1, tx, kTxRing);
        // No third queue: no control queue without VIRTIO_NET_F_CTRL_VQ.
        w32(kQueueSel, 2);
        CHECK(r32(kQueueNumMax) == 0);
        add_status(kDriverOk);
        REQUIRE(dev_.driver_ready());
        for (unsigned i = 0; i < rx_buffers; ++i) add_recvbuf_small();
        w32(kQueueNotify, 0);  // virtqueue_kick
    }

    std::uint16_t alloc_desc(Ring& q) {
        REQUIRE(q.num_free > 0);
        std::uint16_t d = q.free_head;
        q.free_head = q.next_free[d];
        --q.num_free;
        return d;
    }
    void publish(Ring& q, std::uint16_t head) {
        store<std::uint16_t>(q.avail + 4 + 2ull * (q.avail_idx % q.num), head);
        ++q.avail_idx;
        store<std::uint16_t>(q.avail + 2, q.avail_idx);
    }

    // add_recvbuf_small: one device-writable descriptor of hdr_len + GOOD_PACKET_LEN.
    std::uint16_t add_recvbuf_small() {
        std::uint16_t d = alloc_desc(rx);
        std::uint64_t buf = kRxBuffers + 2048ull * d;
        write_desc(rx.desc + 16ull * d, buf, kHdr + kGoodPacketLen, kWrite, 0);
        publish(rx, d);
        return d;
    }
    // add_recvbuf_big's layout: a header descriptor, then the data pages, chained (or in one
    // indirect table when negotiated).
    std::uint16_t add_recvbuf_split(bool indirect) {
        std::uint64_t buf = kRxBuffers + 0x80000;
        if (indirect) {
            std::uint16_t d = alloc_desc(rx);
            std::uint64_t table = kIndirectTables + 0x8000;
            write_desc(table, buf, kHdr, kWrite | kNext, 1);
            write_desc(table + 16, buf + 0x1000, 1000, kWrite | kNext, 2);
            write_desc(table + 32, buf + 0x2000, 4096, kWrite, 0);
            write_desc(rx.desc + 16ull * d, table, 48, kIndirect, 0);
            publish(rx, d);
            return d;
        }
        std::uint16_t a = alloc_desc(rx), b = alloc_desc(rx), c = alloc_desc(rx);
        write_desc(rx.desc + 16ull * a, buf, kHdr, kWrite | kNext, b);
        write_desc(rx.desc + 16ull * b, buf + 0x1000, 1000, kWrite | kNext, c);
        write_desc(rx.desc + 16ull * c, buf + 0x2000, 4096, kWrite, 0);
        publish(rx, a);
        return a;
    }

    enum class TxLayout { one, chained, indirect };
    // xmit_skb: the header pushed in front of the data (one sg), or separate (two sgs, or more
    // with fragments); virtqueue_add_split uses an indirect table for more than one sg when
    // negotiated, else a chain.
    std::uint16_t xmit(const Bytes& frame, TxLayout layout, unsigned pieces = 2) {
        std::uint64_t buf = kTxBuffers + 4096ull * (tx.avail_idx % 64);
        Bytes hdr(kHdr, 0);
        REQUIRE(mem_.write(buf, hdr));
        REQUIRE(mem_.write(buf + kHdr, frame));
        std::uint16_t head = 0;
        if (layout == TxLayout::one) {
            head = alloc_desc(tx);
            write_desc(tx.desc + 16ull * head, buf, kHdr + static_cast<std::uint32_t>(frame.size()), 0, 0);
        } else {
            // Header, then the frame cut in `pieces - 1` parts.
            std::vector<std::pair<std::uint64_t, std::uint32_t>> sg{{buf, kHdr}};
            std::size_t left = frame.size(), at = 0, parts = pieces - 1;
            for (std::size_t p = 0; p < parts; ++p) {
                std::size_t n = p + 1 == parts ? left : left / (parts - p);
                sg.emplace_back(buf + kHdr + at, static_cast<std::uint32_t>(n));
                at += n;
                left -= n;
            }
            if (layout == TxLayout::indirect) {
                head = alloc_desc(tx);
                std::uint64_t table = kIndirectTables + 1024ull * (tx.avail_idx % 32);
                for (std::size_t i = 0; i < sg.size(); ++i) {
                    bool last = i + 1 == sg.size();
                    write_desc(table + 16 * i, sg[i].first, sg[i].second, last ? 0 : kNext,
                               static_cast<std::uint16_t>(last ? 0 : i + 1));
                }
                write_desc(tx.desc + 16ull * head, table, static_cast<std::uint32_t>(16 * sg.size()), kIndirect, 0);
            } else {
                std::vector<std::uint16_t> ds;
                for (std::size_t i = 0; i < sg.size(); ++i) ds.push_back(alloc_desc(tx));
                for (std::size_t i = 0; i < sg.size(); ++i) {
                    bool last = i + 1 == sg.size();
                    write_desc(tx.desc + 16ull * ds[i], sg[i].first, sg[i].second, last ? 0 : kNext,
                               last ? 0 : ds[i + 1]);
                }
                head = ds[0];
            }
        }
        publish(tx, head);
        w32(kQueueNotify, 1);  // vm_notify writes the queue index
        return head;
    }

    // vm_interrupt: read and acknowledge, then (the caller) scans the rings.
    std::uint32_t interrupt() {
        std::uint32_t status = r32(kInterruptStatus);
        w32(kInterruptAck, status);
        return status;
    }
    // virtqueue_get_buf: next used element, if any; frees the chain's descriptors.
    bool get_used(Ring& q, std::uint32_t& id, std::uint32_t& len) {
        if (load<std::uint16_t>(q.used + 2) == q.last_used) return false;
        std::uint64_t e = q.used + 4 + 8ull * (q.last_used % q.num);
        id = load<std::uint32_t>(e);
        len = load<std::uint32_t>(e + 4);
        ++q.last_used;
        REQUIRE(id < q.num);
        // detach_buf_split: walk the chain back into the free list.
        std::uint16_t d = static_cast<std::uint16_t>(id);
        for (;;) {
            std::uint16_t flags = load<std::uint16_t>(q.desc + 16ull * d + 12);
            std::uint16_t next = load<std::uint16_t>(q.desc + 16ull * d + 14);
            std::uint16_t after = q.free_head;
            q.free_head = d;
            q.next_free[d] = after;
            ++q.num_free;
            if (!(flags & kNext)) break;
            d = next;
        }
        return true;
    }
    // virtqueue_disable_cb / virtqueue_enable_cb without EVENT_IDX: the avail ring's flags.
    void set_no_interrupt(Ring& q, bool on) { store<std::uint16_t>(q.avail, on ? 1 : 0); }

    static constexpr std::uint64_t kRxRing = 0x10000, kTxRing = 0x20000, kRxBuffers = 0x100000,
                                   kTxBuffers = 0x300000, kIndirectTables = 0x500000;
    std::uint64_t device_features = 0, features = 0;
    std::uint8_t mac[6]{};
    Ring rx, tx;

private:
    VirtioMmioNet& dev_;
    tandem::GuestMemory& mem_;
};

struct Rig {
    Rig() : host(kHostBase, kRam), memory(host) {
        REQUIRE(memory.append(kHostBase, kRam));
        dev = std::make_unique<VirtioMmioNet>(memory, backend, kMac, log);
        dev->set_interrupt_line(&lines, kPin);
        driver = std::make_unique<LinuxDriver>(*dev, memory);
    }
    bool line() const { return lines.level(kPin); }
    test::VectorHostMemory host;
    tandem::GuestMemory memory;
    Backend backend;
    test::StringWriter log;
    test::RecordingIrqLines lines;
    std::unique_ptr<VirtioMmioNet> dev;
    std::unique_ptr<LinuxDriver> driver;
};

inline Bytes read_guest(tandem::GuestMemory& m, std::uint64_t gpa, std::size_t n) {
    Bytes out(n);
    REQUIRE(m.read(gpa, out));
    return out;
}

}  // namespace virtio_linux_test
