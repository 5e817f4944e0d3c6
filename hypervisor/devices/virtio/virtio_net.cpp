#include "hypervisor/devices/virtio/virtio_net.hpp"

namespace tandem::virtio {
namespace {

// virtio-mmio register offsets (Virtio 1.1 §4.2.2, Table 4.1).
enum Reg : std::uint64_t {
    kMagic = 0x000, kVersion = 0x004, kDeviceId = 0x008, kVendorId = 0x00c, kDeviceFeatures = 0x010,
    kDeviceFeaturesSel = 0x014, kDriverFeatures = 0x020, kDriverFeaturesSel = 0x024, kQueueSel = 0x030,
    kQueueNumMax = 0x034, kQueueNum = 0x038, kQueueReady = 0x044, kQueueNotify = 0x050,
    kInterruptStatus = 0x060, kInterruptAck = 0x064, kStatus = 0x070, kQueueDescLow = 0x080,
    kQueueDescHigh = 0x084, kQueueDriverLow = 0x090, kQueueDriverHigh = 0x094, kQueueDeviceLow = 0x0a0,
    kQueueDeviceHigh = 0x0a4, kShmLenLow = 0x0b0, kShmLenHigh = 0x0b4, kConfigGeneration = 0x0fc, kConfig = 0x100,
};

constexpr std::uint32_t kMagicValue = 0x74726976;  // "virt"
constexpr std::uint32_t kNetDevice = 1;
constexpr std::uint32_t kVendor = 0x4d444e54;      // "TNDM"
// Feature bits (§5.1.3, §6).
constexpr std::uint64_t kFeatureMac = 1ull << 5;              // VIRTIO_NET_F_MAC
constexpr std::uint64_t kFeatureStatus = 1ull << 16;          // VIRTIO_NET_F_STATUS
constexpr std::uint64_t kFeatureIndirect = 1ull << 28;        // VIRTIO_F_RING_INDIRECT_DESC
constexpr std::uint64_t kFeatureVersion1 = 1ull << 32;        // VIRTIO_F_VERSION_1
constexpr std::uint64_t kOffered = kFeatureMac | kFeatureStatus | kFeatureIndirect | kFeatureVersion1;
constexpr std::uint32_t kStatusFeaturesOk = 8;
constexpr std::uint32_t kInterruptUsedBuffer = 1, kInterruptConfig = 2;  // §4.2.2 InterruptStatus
constexpr std::uint8_t kLinkUp = 1;                                       // VIRTIO_NET_S_LINK_UP
constexpr std::uint16_t kRxQueue = 0, kTxQueue = 1;

void set_low(std::uint64_t& v, std::uint64_t low) { v = (v & ~0xffffffffull) | (low & 0xffffffffull); }
void set_high(std::uint64_t& v, std::uint64_t high) { v = (v & 0xffffffffull) | (high << 32); }

}  // namespace

VirtioMmioNet::VirtioMmioNet(GuestMemory& memory, NetBackend& backend, const std::uint8_t (&mac)[6], Writer& log)
    : memory_(&memory), backend_(backend), log_(log), mac_{}, queues_{Virtqueue(memory), Virtqueue(memory)} {
    for (int i = 0; i < 6; ++i) mac_[i] = mac[i];
}

void VirtioMmioNet::set_memory(GuestMemory& memory) {
    memory_ = &memory;
    for (auto& q : queues_) q.set_memory(memory);
}

void VirtioMmioNet::set_interrupt_line(IrqLines* lines, unsigned pin) {
    if (lines_ != nullptr && line_level_ && (lines != lines_ || pin != pin_)) lines_->set_irq(pin_, false);
    lines_ = lines;
    pin_ = pin;
    update_line(true);
}

void VirtioMmioNet::set_link_up(bool up) {
    if (up == link_up_) return;
    link_up_ = up;
    ++config_generation_;  // §4.2.2: ConfigGeneration changes with the configuration
    if (status_ & kStatusDriverOk) raise(kInterruptConfig);
}

void VirtioMmioNet::update_line(bool force) {
    bool level = interrupt_status_ != 0;
    if (lines_ != nullptr && (force || level != line_level_)) lines_->set_irq(pin_, level);
    line_level_ = level;
}

void VirtioMmioNet::raise(std::uint32_t bits) {
    interrupt_status_ |= bits;
    update_line();
}

void VirtioMmioNet::used_buffer_interrupt(const Virtqueue& q) {
    // The flag is read after the used index was published (§2.6.7.2), so a driver that clears
    // it and then rechecks the used ring (virtqueue_enable_cb) misses nothing.
    if (!q.interrupt_suppressed()) raise(kInterruptUsedBuffer);
}

bool VirtioMmioNet::indirect_negotiated() const {
    return (status_ & kStatusFeaturesOk) && (driver_features_ & kFeatureIndirect);
}

void VirtioMmioNet::reset() {
    // §4.2.2.1 / §2.1: writing 0 to Status resets the device: status, features, selectors,
    // queues and interrupt status. The link state and the configuration generation are the
    // outside world's, not the driver's, and carry on.
    status_ = 0;
    driver_features_ = 0;
    device_features_sel_ = driver_features_sel_ = queue_sel_ = 0;
    interrupt_status_ = 0;
    for (auto& q : queues_) q.state() = QueueState{};
    update_line();
}

void VirtioMmioNet::fail(const char* what, const Error& e) {
    ++stats_.protocol_errors;
    if (!(status_ & kStatusNeedsReset)) {
        print(log_, "vm: virtio-net: {}: ", what);
        println(log_, "{}; the device needs a reset", e);
        status_ |= kStatusNeedsReset;
        // §2.1.2: after setting DEVICE_NEEDS_RESET with DRIVER_OK set, notify a config change.
        if (status_ & kStatusDriverOk) raise(kInterruptConfig);
    }
}

Virtqueue* VirtioMmioNet::selected() { return queue_sel_ < 2 ? &queues_[queue_sel_] : nullptr; }

std::uint64_t VirtioMmioNet::mmio_read(std::uint64_t offset, unsigned size) {
    if (offset >= kConfig) {
        // Device configuration (§5.1.4): mac[6], then status le16 (link up bit). Linux's vm_get
        // reads 1, 2, 4 or 8 (two 4-byte) bytes at a time; any width and offset works here,
        // and bytes past the structure read as 0.
        std::uint64_t v = 0;
        for (unsigned i = 0; i < size && i < 8; ++i) {
            std::uint64_t at = offset - kConfig + i;
            std::uint8_t b = at < 6 ? mac_[at] : (at == 6 && link_up_ ? kLinkUp : 0);
            v |= static_cast<std::uint64_t>(b) << (8 * i);
        }
        return v;
    }
    if (size != 4) return 0;  // registers are 32 bits wide (§4.2.2.2)
    Virtqueue* q = selected();
    switch (offset) {
        case kMagic: return kMagicValue;
        case kVersion: return 2;
        case kDeviceId: return kNetDevice;
        case kVendorId: return kVendor;
        case kDeviceFeatures: return device_features_sel_ == 0 ? (kOffered & 0xffffffff) : device_features_sel_ == 1 ? kOffered >> 32 : 0;
        case kQueueNumMax: return q != nullptr ? kQueueSizeMax : 0;
        case kQueueReady: return q != nullptr && q->state().ready ? 1 : 0;
        case kInterruptStatus: return interrupt_status_;
        case kStatus: return status_;
        case kConfigGeneration: return config_generation_;
        case kShmLenLow:
        case kShmLenHigh: return 0xffffffff;  // no shared memory regions (§4.2.2: length ~0)
        default: return 0;
    }
}

void VirtioMmioNet::mmio_write(std::uint64_t offset, unsigned size, std::uint64_t value) {
    if (size != 4 || offset >= kConfig) return;  // configuration space is read-only here
    auto v = static_cast<std::uint32_t>(value);
    Virtqueue* q = selected();
    bool queue_editable = q != nullptr && !q->state().ready;
    switch (offset) {
        case kDeviceFeaturesSel: device_features_sel_ = v; return;
        case kDriverFeaturesSel: driver_features_sel_ = v; return;
        case kDriverFeatures:
            if (status_ & kStatusFeaturesOk) return;  // fixed once accepted (§3.1.1)
            if (driver_features_sel_ == 0) set_low(driver_features_, v);
            if (driver_features_sel_ == 1) set_high(driver_features_, v);
            return;
        case kQueueSel: queue_sel_ = v; return;
        case kQueueNum:
            if (queue_editable) q->state().size = static_cast<std::uint16_t>(v > kQueueSizeMax ? 0 : v);
            return;
        case kQueueDescLow: if (queue_editable) set_low(q->state().desc, v); return;
        case kQueueDescHigh: if (queue_editable) set_high(q->state().desc, v); return;
        case kQueueDriverLow: if (queue_editable) set_low(q->state().avail, v); return;
        case kQueueDriverHigh: if (queue_editable) set_high(q->state().avail, v); return;
        case kQueueDeviceLow: if (queue_editable) set_low(q->state().used, v); return;
        case kQueueDeviceHigh: if (queue_editable) set_high(q->state().used, v); return;
        case kQueueReady:
            if (q == nullptr) return;
            if (v == 1 && !q->state().ready) {
                if (auto s = q->validate(); !s) return fail("queue set-up refused", s.error());
                q->state().ready = true;
                q->state().last_avail = q->state().used_idx = 0;
            } else if (v == 0) {
                q->state().ready = false;
            }
            return;
        case kQueueNotify:
            if (v == kTxQueue) process_transmit();
            return;  // receive notifications: buffers are taken when frames arrive
        case kInterruptAck:
            interrupt_status_ &= ~v;
            update_line();
            return;
        case kStatus:
            v &= 0xff;  // the device status field is 8 bits (§2.1); Linux reads it & 0xff
            if (v == 0) return reset();
            // FEATURES_OK only for features we offered, including VERSION_1 (§3.1.1, §6.1).
            if ((v & kStatusFeaturesOk) && ((driver_features_ & ~kOffered) || !(driver_features_ & kFeatureVersion1))) {
                v &= ~kStatusFeaturesOk;
            }
            status_ = (status_ & kStatusNeedsReset) | v;
            return;
        default: return;
    }
}

void VirtioMmioNet::process_transmit() {
    Virtqueue& tx = queues_[kTxQueue];
    if (!driver_ready() || !tx.state().ready) return;
    bool used = false;
    for (unsigned budget = 0; budget < tx.state().size; ++budget) {
        auto more = tx.has_available();
        if (!more) {
            fail("transmit queue unreadable", more.error());
            break;
        }
        if (!*more) break;
        // Linux: the 12-byte header and the frame in one descriptor, or in several chained or
        // in an indirect table (§5.1.6.2); nothing device-writable.
        Chain chain;
        auto popped = tx.pop(chain, indirect_negotiated());
        if (!popped) {
            fail("bad transmit descriptor", popped.error());
            break;
        }
        if (chain.readable_bytes < kHeaderSize) {
            fail("transmit buffer without its header", Error::of("bytes", chain.readable_bytes));
            break;
        }
        if (chain.readable_bytes > kHeaderSize + kMaxFrame) {
            // Too big for a device without segmentation offloads: dropped, the buffer returned.
            ++stats_.tx_dropped_too_big;
        } else {
            auto n = gather(*memory_, chain, kHeaderSize, {frame_, kMaxFrame});
            if (!n) {
                fail("transmit buffer unreadable", n.error());
                break;
            }
            if (!backend_.transmit({frame_, *n})) {
                // The backend is full: give the chain back untaken, try again later.
                --tx.state().last_avail;
                break;
            }
            ++stats_.tx_frames;
        }
        if (auto s = tx.push_used(chain.head, 0); !s) {
            fail("transmit used ring", s.error());
            break;
        }
        used = true;
    }
    if (used) used_buffer_interrupt(tx);
}

bool VirtioMmioNet::deliver(std::span<const std::uint8_t> frame) {
    Virtqueue& rx = queues_[kRxQueue];
    if (frame.size() > kMaxFrame) {
        ++stats_.rx_dropped_too_big;
        return false;
    }
    if (!driver_ready() || !rx.state().ready) {
        ++stats_.rx_dropped_no_buffer;
        return false;
    }
    auto more = rx.has_available();
    if (!more || !*more) {
        ++stats_.rx_dropped_no_buffer;
        return false;
    }
    // Linux 6.1 without MRG_RXBUF and offloads posts "small" buffers: one device-writable
    // descriptor of 12 + 1518 bytes (add_recvbuf_small); "big" ones (add_recvbuf_big, if it ever
    // uses them) chain a 12-byte header descriptor and page-sized ones, or put them in an
    // indirect table. scatter() fills whatever writable segments the chain has, in order.
    Chain chain;
    auto popped = rx.pop(chain, indirect_negotiated());
    if (!popped) {
        fail("bad receive descriptor", popped.error());
        return false;
    }
    if (chain.writable_bytes < kHeaderSize + frame.size()) {
        ++stats_.rx_dropped_too_big;
        if (auto s = rx.push_used(chain.head, 0); !s) {
            fail("receive used ring", s.error());
            return false;
        }
        used_buffer_interrupt(rx);
        return false;
    }
    // virtio_net_hdr: no offloads, one buffer (num_buffers = 1, §5.1.6.4).
    for (std::size_t i = 0; i < kHeaderSize; ++i) frame_[i] = 0;
    frame_[10] = 1;
    for (std::size_t i = 0; i < frame.size(); ++i) frame_[kHeaderSize + i] = frame[i];
    auto written = scatter(*memory_, chain, {frame_, kHeaderSize + frame.size()});
    if (!written) {
        fail("receive buffer unwritable", written.error());
        return false;
    }
    if (auto s = rx.push_used(chain.head, static_cast<std::uint32_t>(*written)); !s) {
        fail("receive used ring", s.error());
        return false;
    }
    ++stats_.rx_frames;
    used_buffer_interrupt(rx);
    return true;
}

void VirtioMmioNet::save_state(ByteWriter& out) const {
    out.put<std::uint32_t>(status_);
    out.put<std::uint32_t>(device_features_sel_);
    out.put<std::uint32_t>(driver_features_sel_);
    out.put<std::uint64_t>(driver_features_);
    out.put<std::uint32_t>(queue_sel_);
    out.put<std::uint32_t>(interrupt_status_);
    out.put<std::uint32_t>(config_generation_);  // version 2
    out.put<std::uint8_t>(link_up_ ? 1 : 0);     // version 2
    for (const auto& q : queues_) {
        const QueueState& s = q.state();
        out.put<std::uint16_t>(s.size);
        out.put<std::uint8_t>(s.ready ? 1 : 0);
        out.put<std::uint64_t>(s.desc);
        out.put<std::uint64_t>(s.avail);
        out.put<std::uint64_t>(s.used);
        out.put<std::uint16_t>(s.last_avail);
        out.put<std::uint16_t>(s.used_idx);
    }
}

Status VirtioMmioNet::restore_state(std::uint16_t version, std::span<const std::uint8_t> in) {
    if (version != 1 && version != 2) return Error::of("virtio-net0: unsupported state version", version);
    ByteReader r(in);
    std::uint32_t status = 0, dsel = 0, drsel = 0, qsel = 0, isr = 0, generation = 0;
    std::uint8_t link = 1;
    std::uint64_t features = 0;
    QueueState qs[2];
    std::uint8_t ready_flags = 0;
    r.get(status);
    r.get(dsel);
    r.get(drsel);
    r.get(features);
    r.get(qsel);
    r.get(isr);
    if (version >= 2) {
        r.get(generation);
        r.get(link);
    }
    for (auto& s : qs) {
        std::uint8_t ready = 0;
        r.get(s.size);
        r.get(ready);
        r.get(s.desc);
        r.get(s.avail);
        r.get(s.used);
        r.get(s.last_avail);
        r.get(s.used_idx);
        ready_flags |= ready;
        s.ready = ready != 0;
    }
    if (r.failed() || r.remaining() != 0) return Error::of("virtio-net0: malformed state");
    // Refuse values this device never produces (Status is 8 bits, two InterruptStatus bits).
    if (link > 1 || ready_flags > 1 || (isr & ~(kInterruptUsedBuffer | kInterruptConfig)) != 0 || status > 0xff) {
        return Error::of("virtio-net0: impossible state values");
    }
    for (const QueueState& s : qs) {
        if (s.size > kQueueSizeMax) return Error::of("virtio-net0: restored queue too large", s.size);
    }
    for (const QueueState& s : qs) {
        if (!s.ready) continue;
        Virtqueue check(*memory_);
        check.state() = s;
        if (!check.validate()) return Error::of("virtio-net0: restored queue does not fit guest RAM");
    }
    status_ = status;
    device_features_sel_ = dsel;
    driver_features_sel_ = drsel;
    driver_features_ = features;
    queue_sel_ = qsel;
    interrupt_status_ = isr;
    config_generation_ = generation;
    link_up_ = link != 0;
    for (int i = 0; i < 2; ++i) queues_[i].state() = qs[i];
    // The line follows the restored InterruptStatus whatever it was driven to before.
    update_line(true);
    return success();
}

}  // namespace tandem::virtio
