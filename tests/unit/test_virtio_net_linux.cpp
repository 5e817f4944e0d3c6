// The virtio-net device (hypervisor/devices/virtio/virtio_net.hpp) against a host "driver" that
// does what Linux 6.1 does (drivers/virtio/virtio_mmio.c, virtio_ring.c, drivers/net/
// virtio_net.c): its probe sequence, its split rings laid out by vring_create_virtqueue, small
// receive buffers (add_recvbuf_small), transmissions in one descriptor, chained or indirect, its
// interrupt handler (vm_interrupt: read InterruptStatus, acknowledge it, scan the rings) and
// VRING_AVAIL_F_NO_INTERRUPT. Then resets, malformed rings, and checkpoints mid-traffic
// (Virtio 1.1 §2.6, §4.2.2, §5.1; DESIGN §6).
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include <doctest/doctest.h>

#include "hypervisor/devices/virtio/virtio_net.hpp"
#include "tests/unit/device_fakes.hpp"
#include "tests/unit/helpers.hpp"
#include "tests/unit/vmx_fake_host_memory.hpp"

namespace {

using tandem::virtio::VirtioMmioNet;
using Bytes = std::vector<std::uint8_t>;

// Registers (§4.2.2) and bits, as Linux's uapi headers name them.
constexpr std::uint64_t kMagic = 0x000, kVersion = 0x004, kDeviceId = 0x008, kDeviceFeatures = 0x010,
                        kDeviceFeaturesSel = 0x014, kDriverFeatures = 0x020, kDriverFeaturesSel = 0x024,
                        kQueueSel = 0x030, kQueueNumMax = 0x034, kQueueNum = 0x038, kQueueReady = 0x044,
                        kQueueNotify = 0x050, kInterruptStatus = 0x060, kInterruptAck = 0x064, kStatus = 0x070,
                        kQueueDescLow = 0x080, kQueueDescHigh = 0x084, kQueueAvailLow = 0x090,
                        kQueueAvailHigh = 0x094, kQueueUsedLow = 0x0a0, kQueueUsedHigh = 0x0a4,
                        kConfigGeneration = 0x0fc, kConfig = 0x100;
constexpr std::uint32_t kAck = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8, kNeedsReset = 64;
constexpr std::uint64_t kFMac = 1ull << 5, kFStatus = 1ull << 16, kFIndirect = 1ull << 28, kFEventIdx = 1ull << 29,
                        kFVersion1 = 1ull << 32, kFCsum = 1ull << 0, kFMrgRxbuf = 1ull << 15, kFRingPacked = 1ull << 34;
constexpr std::uint16_t kNext = 1, kWrite = 2, kIndirect = 4;
constexpr unsigned kPin = 17;
constexpr std::uint64_t kRam = 8ull << 20, kHostBase = 0x4000'0000;
constexpr std::uint32_t kHdr = 12, kGoodPacketLen = 1518;
const std::uint8_t kMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

struct Backend final : tandem::virtio::NetBackend {
    bool transmit(std::span<const std::uint8_t> frame) override {
        if (busy) return false;
        frames.emplace_back(frame.begin(), frame.end());
        return true;
    }
    bool busy = false;
    std::vector<Bytes> frames;
};

Bytes frame_of(std::uint8_t id, std::size_t size = 64) {
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

Bytes read_guest(tandem::GuestMemory& m, std::uint64_t gpa, std::size_t n) {
    Bytes out(n);
    REQUIRE(m.read(gpa, out));
    return out;
}

}  // namespace

TEST_CASE("virtio-net/Linux: probe negotiates VERSION_1, MAC, STATUS and INDIRECT_DESC, and nothing else") {
    Rig r;
    REQUIRE(r.driver->probe());
    CHECK(r.driver->device_features == (kFVersion1 | kFMac | kFStatus | kFIndirect));
    CHECK(r.driver->features == (kFVersion1 | kFMac | kFStatus | kFIndirect));
    CHECK(std::memcmp(r.driver->mac, kMac, 6) == 0);
    CHECK(r.dev->mmio_read(kStatus, 4) == (kAck | kDriver | kFeaturesOk));
    // Feature pages beyond 1 are empty.
    r.driver->w32(kDeviceFeaturesSel, 2);
    CHECK(r.driver->r32(kDeviceFeatures) == 0);
    // Config space: 1-, 2- and 4-byte reads (vm_get), status le16 at 6 with LINK_UP, zeros after.
    CHECK(r.dev->mmio_read(kConfig + 0, 4) == 0x12005452u);
    CHECK(r.dev->mmio_read(kConfig + 4, 2) == 0x5634u);
    CHECK(r.dev->mmio_read(kConfig + 6, 2) == 1u);
    CHECK(r.dev->mmio_read(kConfig + 5, 1) == 0x56u);
    CHECK(r.dev->mmio_read(kConfig + 8, 4) == 0u);
    CHECK(r.dev->mmio_read(kConfig + 0x40, 4) == 0u);
    CHECK(r.driver->r32(kConfigGeneration) == 0);
    // No interrupt yet, and the line was driven low when wired.
    CHECK_FALSE(r.line());
    CHECK(r.driver->r32(kInterruptStatus) == 0);
}

TEST_CASE("virtio-net/Linux: FEATURES_OK refused for a feature not offered or without VERSION_1") {
    for (std::uint64_t extra : {kFEventIdx, kFCsum, kFMrgRxbuf, kFRingPacked, std::uint64_t{1} << 40, std::uint64_t{1} << 63}) {
        CAPTURE(extra);
        Rig r;
        CHECK_FALSE(r.driver->probe(extra));
        CHECK((r.driver->r32(kStatus) & kFeaturesOk) == 0);
        // The driver may retry with the offer (after a reset, as Linux would on a new probe).
        CHECK(r.driver->probe());
    }
    Rig r;
    CHECK_FALSE(r.driver->probe(0, true));
    // Features are fixed once FEATURES_OK is accepted.
    REQUIRE(r.driver->probe());
    r.driver->w32(kDriverFeaturesSel, 0);
    r.driver->w32(kDriverFeatures, 0xffffffff);
    r.driver->add_status(kFeaturesOk);
    CHECK((r.driver->r32(kStatus) & kFeaturesOk) != 0);
}

TEST_CASE("virtio-net/Linux: small receive buffers get header and frame, the line goes up until acknowledged") {
    Rig r;
    r.driver->bring_up(8);
    CHECK(r.dev->mmio_read(kInterruptStatus, 4) == 0);
    Bytes f = frame_of(1, 1514);
    REQUIRE(r.dev->deliver(f));
    CHECK(r.line());
    CHECK(r.lines.rising[kPin] == 1);
    // A second frame while the line is up changes nothing on the line.
    Bytes g = frame_of(2, 60);
    REQUIRE(r.dev->deliver(g));
    CHECK(r.lines.rising[kPin] == 1);
    CHECK(r.driver->interrupt() == 1);
    CHECK_FALSE(r.line());
    CHECK(r.driver->r32(kInterruptStatus) == 0);
    std::uint32_t id = 0, len = 0;
    REQUIRE(r.driver->get_used(r.driver->rx, id, len));
    CHECK(id == 0);
    CHECK(len == kHdr + 1514);
    Bytes hdr = read_guest(r.memory, LinuxDriver::kRxBuffers, kHdr);
    Bytes want_hdr(kHdr, 0);
    want_hdr[10] = 1;  // num_buffers = 1 (§5.1.6.4)
    CHECK(hdr == want_hdr);
    CHECK(read_guest(r.memory, LinuxDriver::kRxBuffers + kHdr, 1514) == f);
    REQUIRE(r.driver->get_used(r.driver->rx, id, len));
    CHECK(id == 1);
    CHECK(len == kHdr + 60);
    CHECK(read_guest(r.memory, LinuxDriver::kRxBuffers + 2048 + kHdr, 60) == g);
    CHECK_FALSE(r.driver->get_used(r.driver->rx, id, len));
    // A VLAN-tagged maximum frame (GOOD_PACKET_LEN) fits; one byte more is dropped.
    REQUIRE(r.dev->deliver(frame_of(3, kGoodPacketLen)));
    CHECK_FALSE(r.dev->deliver(frame_of(4, kGoodPacketLen + 1)));
    CHECK(r.dev->stats().rx_dropped_too_big == 1);
    CHECK(r.dev->stats().rx_frames == 3);
}

TEST_CASE("virtio-net/Linux: receive into a separate header descriptor, chained or indirect") {
    for (bool indirect : {false, true}) {
        CAPTURE(indirect);
        Rig r;
        r.driver->bring_up(0);
        std::uint16_t head = r.driver->add_recvbuf_split(indirect);
        Bytes f = frame_of(9, 1400);
        REQUIRE(r.dev->deliver(f));
        std::uint32_t id = 0, len = 0;
        REQUIRE(r.driver->get_used(r.driver->rx, id, len));
        CHECK(id == head);
        CHECK(len == kHdr + 1400);
        std::uint64_t buf = LinuxDriver::kRxBuffers + 0x80000;
        CHECK(read_guest(r.memory, buf + 10, 2) == Bytes{1, 0});
        Bytes got = read_guest(r.memory, buf + 0x1000, 1000);
        Bytes rest = read_guest(r.memory, buf + 0x2000, 400);
        got.insert(got.end(), rest.begin(), rest.end());
        CHECK(got == f);
        CHECK(r.line());
        CHECK(r.dev->stats().protocol_errors == 0);
    }
}

TEST_CASE("virtio-net/Linux: transmit in one descriptor, chained and indirect; completions interrupt") {
    Rig r;
    r.driver->bring_up();
    Bytes a = frame_of(0x10, 60), b = frame_of(0x20, 1514), c = frame_of(0x30, 700), d = frame_of(0x40, 1518);
    r.driver->xmit(a, LinuxDriver::TxLayout::one);
    CHECK(r.line());
    CHECK(r.driver->interrupt() == 1);
    r.driver->xmit(b, LinuxDriver::TxLayout::chained, 2);
    r.driver->xmit(c, LinuxDriver::TxLayout::indirect, 2);
    r.driver->xmit(d, LinuxDriver::TxLayout::indirect, 19);  // MAX_SKB_FRAGS + 2 segments
    r.driver->xmit(c, LinuxDriver::TxLayout::chained, 5);
    REQUIRE(r.backend.frames.size() == 5);
    CHECK(r.backend.frames[0] == a);
    CHECK(r.backend.frames[1] == b);
    CHECK(r.backend.frames[2] == c);
    CHECK(r.backend.frames[3] == d);
    CHECK(r.backend.frames[4] == c);
    CHECK(r.line());
    CHECK(r.driver->interrupt() == 1);
    std::uint32_t id = 0, len = 0;
    unsigned completions = 0;
    while (r.driver->get_used(r.driver->tx, id, len)) {
        CHECK(len == 0);
        ++completions;
    }
    CHECK(completions == 5);
    CHECK(r.driver->tx.num_free == r.driver->tx.num);
    CHECK(r.dev->stats().tx_frames == 5);
    CHECK(r.dev->stats().protocol_errors == 0);
    CHECK_FALSE(r.line());
}

TEST_CASE("virtio-net/Linux: a busy backend keeps the frame queued; an oversized frame is dropped, not fatal") {
    Rig r;
    r.driver->bring_up();
    r.backend.busy = true;
    r.driver->xmit(frame_of(1, 100), LinuxDriver::TxLayout::one);
    CHECK_FALSE(r.line());
    std::uint32_t id = 0, len = 0;
    CHECK_FALSE(r.driver->get_used(r.driver->tx, id, len));
    r.backend.busy = false;
    r.dev->process_transmit();  // the tick retries
    CHECK(r.backend.frames.size() == 1);
    CHECK(r.line());
    r.driver->interrupt();
    r.driver->xmit(frame_of(2, 1519), LinuxDriver::TxLayout::chained, 3);
    CHECK(r.backend.frames.size() == 1);
    CHECK(r.dev->stats().tx_dropped_too_big == 1);
    CHECK(r.dev->driver_ready());
    CHECK(r.line());  // the buffer came back used
}

TEST_CASE("virtio-net/Linux: VRING_AVAIL_F_NO_INTERRUPT suppresses used-buffer interrupts, not the used ring") {
    Rig r;
    r.driver->bring_up();
    r.driver->set_no_interrupt(r.driver->rx, true);  // NAPI polling: virtqueue_disable_cb
    REQUIRE(r.dev->deliver(frame_of(1)));
    REQUIRE(r.dev->deliver(frame_of(2)));
    CHECK_FALSE(r.line());
    CHECK(r.driver->r32(kInterruptStatus) == 0);
    std::uint32_t id = 0, len = 0;
    CHECK(r.driver->get_used(r.driver->rx, id, len));
    CHECK(r.driver->get_used(r.driver->rx, id, len));
    // Transmit completions are governed by the transmit ring's own flag.
    r.driver->xmit(frame_of(3), LinuxDriver::TxLayout::one);
    CHECK(r.line());
    r.driver->interrupt();
    r.driver->set_no_interrupt(r.driver->tx, true);
    r.driver->xmit(frame_of(4), LinuxDriver::TxLayout::one);
    CHECK_FALSE(r.line());
    // virtqueue_enable_cb: interrupts again from the next used buffer.
    r.driver->set_no_interrupt(r.driver->rx, false);
    REQUIRE(r.dev->deliver(frame_of(5)));
    CHECK(r.line());
    CHECK(r.lines.rising[kPin] == 2);
}

TEST_CASE("virtio-net/Linux: link changes bump ConfigGeneration and raise a config-change interrupt") {
    Rig r;
    r.dev->set_link_up(false);  // before DRIVER_OK: no interrupt, the driver reads it at probe
    CHECK_FALSE(r.line());
    CHECK(r.dev->mmio_read(kConfig + 6, 2) == 0);
    CHECK(r.driver->r32(kConfigGeneration) == 1);
    r.driver->bring_up();
    r.dev->set_link_up(true);
    CHECK(r.line());
    CHECK(r.driver->r32(kConfigGeneration) == 2);
    CHECK(r.dev->mmio_read(kConfig + 6, 2) == 1);
    CHECK(r.driver->interrupt() == 2);
    CHECK_FALSE(r.line());
    REQUIRE(r.dev->deliver(frame_of(1)));
    r.dev->set_link_up(false);
    CHECK(r.driver->interrupt() == 3);
}

TEST_CASE("virtio-net/Linux: writing 0 to Status resets queues, interrupt status and features mid-run") {
    Rig r;
    r.driver->bring_up();
    REQUIRE(r.dev->deliver(frame_of(1)));
    r.driver->xmit(frame_of(2), LinuxDriver::TxLayout::indirect);
    CHECK(r.line());
    r.driver->w32(kStatus, 0);
    CHECK_FALSE(r.line());
    CHECK(r.driver->r32(kInterruptStatus) == 0);
    CHECK(r.driver->r32(kStatus) == 0);
    CHECK_FALSE(r.dev->driver_ready());
    for (unsigned q : {0u, 1u}) {
        r.driver->w32(kQueueSel, q);
        CHECK(r.driver->r32(kQueueReady) == 0);
    }
    // Nothing moves while reset.
    CHECK_FALSE(r.dev->deliver(frame_of(3)));
    r.dev->process_transmit();
    CHECK(r.backend.frames.size() == 1);
    // Linux brings it up again from scratch (fresh rings, new indices).
    r.driver->bring_up();
    REQUIRE(r.dev->deliver(frame_of(4)));
    std::uint32_t id = 0, len = 0;
    REQUIRE(r.driver->get_used(r.driver->rx, id, len));
    CHECK(id == 0);
    r.driver->xmit(frame_of(5), LinuxDriver::TxLayout::indirect);
    CHECK(r.backend.frames.size() == 2);
    CHECK(r.dev->stats().protocol_errors == 0);
}

TEST_CASE("virtio-net/Linux: the interrupt follows a queue-ready failure and a reset clears DEVICE_NEEDS_RESET") {
    Rig r;
    REQUIRE(r.driver->probe());
    r.driver->w32(kQueueSel, 0);
    r.driver->w32(kQueueNum, 256);
    r.driver->w32(kQueueDescLow, 0x1008);  // misaligned
    r.driver->w32(kQueueReady, 1);
    CHECK(r.driver->r32(kQueueReady) == 0);
    CHECK((r.driver->r32(kStatus) & kNeedsReset) != 0);
    CHECK_FALSE(r.line());  // not DRIVER_OK yet: no config interrupt
    r.driver->w32(kStatus, 0);
    CHECK(r.driver->r32(kStatus) == 0);
    r.driver->bring_up();
    CHECK(r.dev->driver_ready());
}

namespace {

// A rig brought up with one receive buffer and the transmit ring ready, for breaking rings.
struct BrokenRig : Rig {
    BrokenRig() { driver->bring_up(0); }
    void expect_needs_reset(const char* what) {
        CAPTURE(what);
        CHECK((driver->r32(kStatus) & kNeedsReset) != 0);
        CHECK_FALSE(dev->driver_ready());
        CHECK(dev->stats().protocol_errors >= 1);
        CHECK(log.str().find("needs a reset") != std::string::npos);
        // §2.1.2: DEVICE_NEEDS_RESET after DRIVER_OK comes with a config-change interrupt.
        CHECK((driver->r32(kInterruptStatus) & 2) != 0);
        CHECK(line());
        // And it stays inert until reset, then works again.
        CHECK_FALSE(dev->deliver(frame_of(1)));
        driver->w32(kStatus, 0);
        CHECK_FALSE(line());
        driver->bring_up(4);
        CHECK(dev->deliver(frame_of(2)));
    }
};

}  // namespace

TEST_CASE("virtio-net/Linux: malformed descriptors are refused without crashing") {
    using D = LinuxDriver;
    SUBCASE("rx chain looping on itself") {
        BrokenRig r;
        r.driver->write_desc(r.driver->rx.desc, D::kRxBuffers, 8, kWrite | kNext, 0);
        r.driver->publish(r.driver->rx, 0);
        CHECK_FALSE(r.dev->deliver(frame_of(1)));
        r.expect_needs_reset("loop");
    }
    SUBCASE("rx chain looping across two descriptors") {
        BrokenRig r;
        r.driver->write_desc(r.driver->rx.desc, D::kRxBuffers, 4, kWrite | kNext, 1);
        r.driver->write_desc(r.driver->rx.desc + 16, D::kRxBuffers, 4, kWrite | kNext, 0);
        r.driver->publish(r.driver->rx, 0);
        CHECK_FALSE(r.dev->deliver(frame_of(1)));
        r.expect_needs_reset("loop of two");
    }
    SUBCASE("buffer outside guest RAM") {
        BrokenRig r;
        r.driver->write_desc(r.driver->rx.desc, kRam - 100, 2048, kWrite, 0);
        r.driver->publish(r.driver->rx, 0);
        CHECK_FALSE(r.dev->deliver(frame_of(1)));
        r.expect_needs_reset("outside RAM");
    }
    SUBCASE("buffer address wrapping around") {
        BrokenRig r;
        r.driver->write_desc(r.driver->tx.desc, ~0ull - 10, 100, 0, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("wrapping");
    }
    SUBCASE("next index out of range") {
        BrokenRig r;
        r.driver->write_desc(r.driver->tx.desc, D::kTxBuffers, 12, kNext, 999);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("next out of range");
    }
    SUBCASE("head index out of range") {
        BrokenRig r;
        r.driver->publish(r.driver->tx, 4000);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("head out of range");
    }
    SUBCASE("available index more than a queue ahead") {
        BrokenRig r;
        r.driver->store<std::uint16_t>(r.driver->rx.avail + 2, 300);
        CHECK_FALSE(r.dev->deliver(frame_of(1)));
        r.expect_needs_reset("avail idx");
    }
    SUBCASE("chain longer than the device takes") {
        BrokenRig r;
        for (std::uint16_t i = 0; i < 100; ++i) {
            r.driver->write_desc(r.driver->tx.desc + 16ull * i, D::kTxBuffers, 1, i == 99 ? 0 : kNext,
                                 static_cast<std::uint16_t>(i + 1));
        }
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("too long");
    }
    SUBCASE("readable after writable") {
        BrokenRig r;
        r.driver->write_desc(r.driver->rx.desc, D::kRxBuffers, 100, kWrite | kNext, 1);
        r.driver->write_desc(r.driver->rx.desc + 16, D::kRxBuffers + 100, 2000, 0, 0);
        r.driver->publish(r.driver->rx, 0);
        CHECK_FALSE(r.dev->deliver(frame_of(1)));
        r.expect_needs_reset("order");
    }
    SUBCASE("transmit shorter than its header") {
        BrokenRig r;
        r.driver->write_desc(r.driver->tx.desc, D::kTxBuffers, 11, 0, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("short");
    }
    SUBCASE("indirect with NEXT") {
        BrokenRig r;
        r.driver->write_desc(D::kIndirectTables, D::kTxBuffers, 100, 0, 0);
        r.driver->write_desc(r.driver->tx.desc, D::kIndirectTables, 16, kIndirect | kNext, 1);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("indirect+next");
    }
    SUBCASE("indirect table nested") {
        BrokenRig r;
        r.driver->write_desc(D::kIndirectTables, D::kIndirectTables + 64, 16, kIndirect, 0);
        r.driver->write_desc(D::kIndirectTables + 64, D::kTxBuffers, 100, 0, 0);
        r.driver->write_desc(r.driver->tx.desc, D::kIndirectTables, 16, kIndirect, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("nested");
    }
    SUBCASE("indirect table of impossible lengths") {
        for (std::uint32_t len : {0u, 8u, 17u, 16u * 65, 0xfffffff0u}) {
            CAPTURE(len);
            BrokenRig r;
            r.driver->write_desc(r.driver->tx.desc, D::kIndirectTables, len, kIndirect, 0);
            r.driver->publish(r.driver->tx, 0);
            r.driver->w32(kQueueNotify, 1);
            r.expect_needs_reset("indirect length");
        }
    }
    SUBCASE("indirect table outside RAM") {
        BrokenRig r;
        r.driver->write_desc(r.driver->tx.desc, kRam - 16, 32, kIndirect, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("indirect outside");
    }
    SUBCASE("loop inside an indirect table") {
        BrokenRig r;
        r.driver->write_desc(D::kIndirectTables, D::kTxBuffers, 12, kNext, 1);
        r.driver->write_desc(D::kIndirectTables + 16, D::kTxBuffers, 12, kNext, 0);
        r.driver->write_desc(r.driver->tx.desc, D::kIndirectTables, 32, kIndirect, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("indirect loop");
    }
    SUBCASE("indirect next out of its table") {
        BrokenRig r;
        r.driver->write_desc(D::kIndirectTables, D::kTxBuffers, 12, kNext, 2);
        r.driver->write_desc(D::kIndirectTables + 16, D::kTxBuffers, 12, 0, 0);
        r.driver->write_desc(D::kIndirectTables + 32, D::kTxBuffers, 12, 0, 0);
        r.driver->write_desc(r.driver->tx.desc, D::kIndirectTables, 32, kIndirect, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("indirect next");
    }
    SUBCASE("indirect not at the head") {
        BrokenRig r;
        r.driver->write_desc(D::kIndirectTables, D::kTxBuffers + 12, 100, 0, 0);
        r.driver->write_desc(r.driver->tx.desc, D::kTxBuffers, 12, kNext, 1);
        r.driver->write_desc(r.driver->tx.desc + 16, D::kIndirectTables, 16, kIndirect, 0);
        r.driver->publish(r.driver->tx, 0);
        r.driver->w32(kQueueNotify, 1);
        r.expect_needs_reset("indirect not head");
    }
}

TEST_CASE("virtio-net/Linux: indirect descriptors are refused unless negotiated") {
    Rig r;
    // A driver that does not take INDIRECT_DESC (the test guest, or Linux with it masked).
    REQUIRE(r.driver->probe());
    r.driver->w32(kStatus, 0);
    r.driver->add_status(kAck | kDriver);
    r.driver->w32(kDriverFeaturesSel, 1);
    r.driver->w32(kDriverFeatures, 1);
    r.driver->w32(kDriverFeaturesSel, 0);
    r.driver->w32(kDriverFeatures, static_cast<std::uint32_t>(kFMac));
    r.driver->add_status(kFeaturesOk);
    REQUIRE((r.driver->r32(kStatus) & kFeaturesOk) != 0);
    r.driver->setup_vq(0, r.driver->rx, LinuxDriver::kRxRing);
    r.driver->setup_vq(1, r.driver->tx, LinuxDriver::kTxRing);
    r.driver->add_status(kDriverOk);
    r.driver->xmit(frame_of(1), LinuxDriver::TxLayout::chained, 3);
    CHECK(r.backend.frames.size() == 1);
    r.driver->xmit(frame_of(2), LinuxDriver::TxLayout::indirect);
    CHECK(r.backend.frames.size() == 1);
    CHECK((r.driver->r32(kStatus) & kNeedsReset) != 0);
}

TEST_CASE("virtio-net/Linux: garbage register accesses do nothing harmful") {
    Rig r;
    r.driver->bring_up();
    for (std::uint64_t off = 0; off < VirtioMmioNet::kSize; off += 4) {
        for (unsigned size : {1u, 2u, 4u, 8u}) (void)r.dev->mmio_read(off, size);
    }
    r.driver->w32(kQueueSel, 77);
    r.driver->w32(kQueueNum, 16);
    r.driver->w32(kQueueReady, 1);
    r.driver->w32(kQueueNotify, 77);
    r.dev->mmio_write(kStatus, 2, 0);  // not 4 bytes: ignored
    r.dev->mmio_write(kConfig, 4, 0xffffffff);
    CHECK(r.dev->driver_ready());
    // A ready queue cannot be moved.
    r.driver->w32(kQueueSel, 0);
    r.driver->w32(kQueueDescLow, 0x7000);
    REQUIRE(r.dev->deliver(frame_of(1)));
    std::uint32_t id = 0, len = 0;
    CHECK(r.driver->get_used(r.driver->rx, id, len));
}

TEST_CASE("virtio-net/Linux: state saved mid-traffic restores to identical behaviour, any number of times") {
    Rig a;
    a.driver->bring_up(8);
    REQUIRE(a.dev->deliver(frame_of(1)));
    a.driver->xmit(frame_of(2, 300), LinuxDriver::TxLayout::indirect);
    a.dev->set_link_up(false);
    // Not acknowledged: InterruptStatus 3 and the line up travel with the state.
    Bytes state = test::saved_state(*a.dev);
    Bytes ram = read_guest(a.memory, 0, kRam);
    // Continue on the original: more traffic.
    auto more = [](Rig& r) {
        REQUIRE(r.dev->deliver(frame_of(3, 1000)));
        r.driver->xmit(frame_of(4, 90), LinuxDriver::TxLayout::chained, 3);
        r.driver->interrupt();
        REQUIRE(r.dev->deliver(frame_of(5, 61)));
    };
    Ring rx_before = a.driver->rx, tx_before = a.driver->tx;
    more(a);
    Bytes ram_after = read_guest(a.memory, 0, kRam);
    Bytes state_after = test::saved_state(*a.dev);

    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        Rig b;
        REQUIRE(b.memory.write(0, ram));
        // Restore twice into the same device: the second must not depend on the first.
        REQUIRE(b.dev->restore_state(a.dev->state_version(), state));
        REQUIRE(b.dev->restore_state(a.dev->state_version(), state));
        CHECK(test::saved_state(*b.dev) == state);
        CHECK(b.line());
        CHECK(b.driver->r32(kInterruptStatus) == 3);
        CHECK(b.dev->mmio_read(kConfig + 6, 2) == 0);
        CHECK(b.driver->r32(kConfigGeneration) == 1);
        b.driver->rx = rx_before;
        b.driver->tx = tx_before;
        more(b);
        CHECK(read_guest(b.memory, 0, kRam) == ram_after);
        CHECK(test::saved_state(*b.dev) == state_after);
        REQUIRE(b.backend.frames.size() == 1);
        CHECK(b.backend.frames[0] == frame_of(4, 90));
    }
}

TEST_CASE("virtio-net/Linux: version 1 states are accepted; malformed states refused, the device unchanged") {
    Rig a;
    a.driver->bring_up(4);
    REQUIRE(a.dev->deliver(frame_of(1)));
    Bytes v2 = test::saved_state(*a.dev);
    CHECK(a.dev->state_version() == 2);
    // Version 1: the same without configuration generation (4 bytes) and link (1 byte), which
    // follow InterruptStatus at offset 4 + 4 + 4 + 8 + 4 + 4 = 28.
    Bytes v1 = v2;
    v1.erase(v1.begin() + 28, v1.begin() + 33);
    Rig b;
    REQUIRE(b.memory.write(0, read_guest(a.memory, 0, kRam)));
    REQUIRE(b.dev->restore_state(1, v1));
    CHECK(test::saved_state(*b.dev) == v2);  // generation 0 and link up, as before
    CHECK(b.line());

    Rig c;
    c.driver->bring_up(2);
    Bytes before = test::saved_state(*c.dev);
    for (std::size_t n = 0; n < v2.size(); ++n) {
        CAPTURE(n);
        CHECK_FALSE(c.dev->restore_state(2, {v2.data(), n}).ok());
    }
    Bytes longer = v2;
    longer.push_back(0);
    CHECK_FALSE(c.dev->restore_state(2, longer).ok());
    CHECK_FALSE(c.dev->restore_state(1, v2).ok());
    CHECK_FALSE(c.dev->restore_state(3, v2).ok());
    CHECK_FALSE(c.dev->restore_state(0, v2).ok());
    // Values the device never produces.
    Bytes bad = v2;
    bad[24] = 4;  // InterruptStatus bit 2
    CHECK_FALSE(c.dev->restore_state(2, bad).ok());
    bad = v2;
    bad[32] = 2;  // link
    CHECK_FALSE(c.dev->restore_state(2, bad).ok());
    bad = v2;
    bad[1] = 1;  // Status above 8 bits
    CHECK_FALSE(c.dev->restore_state(2, bad).ok());
    // Regression (found by fuzz.virtio_net): a queue's ready flag other than 0 or 1 was taken as
    // "ready" and saved back as 1, so a restored state did not save as it was given.
    bad = v2;
    bad[33 + 2] = 2;  // rx queue ready
    CHECK_FALSE(c.dev->restore_state(2, bad).ok());
    // A ready queue outside guest RAM.
    bad = v2;
    bad[33 + 3 + 7] = 0x7f;  // rx desc, top byte
    CHECK_FALSE(c.dev->restore_state(2, bad).ok());
    CHECK(test::saved_state(*c.dev) == before);
}
