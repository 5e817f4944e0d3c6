#include "virtio_net_driver.hpp"

namespace guest {
namespace {
// virtio-mmio registers (Virtio 1.1 §4.2.2).
constexpr uint32_t kMagic = 0x000, kVersion = 0x004, kDeviceId = 0x008, kDeviceFeatures = 0x010,
                   kDeviceFeaturesSel = 0x014, kDriverFeatures = 0x020, kDriverFeaturesSel = 0x024, kQueueSel = 0x030,
                   kQueueNumMax = 0x034, kQueueNum = 0x038, kQueueReady = 0x044, kQueueNotify = 0x050,
                   kStatus = 0x070, kQueueDescLow = 0x080, kQueueDescHigh = 0x084, kQueueDriverLow = 0x090,
                   kQueueDriverHigh = 0x094, kQueueDeviceLow = 0x0a0, kQueueDeviceHigh = 0x0a4, kConfig = 0x100;
constexpr uint32_t kAcknowledge = 1, kDriver = 2, kDriverOk = 4, kFeaturesOk = 8;
constexpr uint16_t kWrite = 2;
constexpr uint32_t kHeader = 12;

void barrier() { asm volatile("" ::: "memory"); }
}  // namespace

// Device registers are accessed with plain MOVs only (as Linux's readl/writel do): tandem
// emulates MMIO by decoding the instruction, and a compiler may otherwise fold a load into an
// arithmetic instruction.
uint32_t VirtioNet::read32(uint32_t offset) const {
    uint32_t v;
    asm volatile("movl (%1), %0" : "=r"(v) : "r"(regs_ + offset / 4) : "memory");
    return v;
}
void VirtioNet::write32(uint32_t offset, uint32_t value) {
    asm volatile("movl %0, (%1)" ::"r"(value), "r"(regs_ + offset / 4) : "memory");
}

void VirtioNet::setup_queue(uint32_t index, Queue& q) {
    write32(kQueueSel, index);
    write32(kQueueNum, kQueueSize);
    auto d = reinterpret_cast<uint64_t>(&q.desc[0]);
    auto a = reinterpret_cast<uint64_t>(&q.avail);
    auto u = reinterpret_cast<uint64_t>(&q.used);
    write32(kQueueDescLow, static_cast<uint32_t>(d));
    write32(kQueueDescHigh, static_cast<uint32_t>(d >> 32));
    write32(kQueueDriverLow, static_cast<uint32_t>(a));
    write32(kQueueDriverHigh, static_cast<uint32_t>(a >> 32));
    write32(kQueueDeviceLow, static_cast<uint32_t>(u));
    write32(kQueueDeviceHigh, static_cast<uint32_t>(u >> 32));
    write32(kQueueReady, 1);
}

bool VirtioNet::init(uintptr_t mmio) {
    regs_ = reinterpret_cast<volatile uint32_t*>(mmio);
    if (read32(kMagic) != 0x74726976 || read32(kVersion) != 2 || read32(kDeviceId) != 1) return false;
    write32(kStatus, 0);
    write32(kStatus, kAcknowledge | kDriver);
    write32(kDeviceFeaturesSel, 1);
    if (!(read32(kDeviceFeatures) & 1)) return false;  // VIRTIO_F_VERSION_1
    write32(kDriverFeaturesSel, 0);
    write32(kDriverFeatures, 1u << 5);  // VIRTIO_NET_F_MAC
    write32(kDriverFeaturesSel, 1);
    write32(kDriverFeatures, 1);  // VIRTIO_F_VERSION_1
    write32(kStatus, kAcknowledge | kDriver | kFeaturesOk);
    if (!(read32(kStatus) & kFeaturesOk)) return false;
    if (read32(kQueueNumMax) < kQueueSize) return false;
    for (uint32_t i = 0; i < 6; ++i) {
        uint8_t b;
        asm volatile("movb (%1), %0" : "=r"(b) : "r"(mmio + kConfig + i) : "memory");
        mac_[i] = b;
    }

    for (uint16_t i = 0; i < kQueueSize; ++i) {
        rxq_.desc[i] = {reinterpret_cast<uint64_t>(&rx_buffers_[i][0]), kBufferSize, kWrite, 0};
        rxq_.avail.ring[i] = i;
    }
    rxq_.avail.idx = kQueueSize;
    setup_queue(0, rxq_);
    setup_queue(1, txq_);
    write32(kStatus, kAcknowledge | kDriver | kFeaturesOk | kDriverOk);
    return true;
}

const uint8_t* VirtioNet::receive(uint32_t& length) {
    barrier();
    if (rxq_.used.idx == rxq_.last_used) return nullptr;
    const UsedElem& e = rxq_.used.ring[rxq_.last_used % kQueueSize];
    if (e.id >= kQueueSize || e.len < kHeader) {
        ++rxq_.last_used;
        return nullptr;
    }
    pending_rx_ = static_cast<uint16_t>(e.id);
    length = e.len - kHeader;
    return &rx_buffers_[e.id][kHeader];
}

void VirtioNet::release() {
    if (pending_rx_ == 0xffff) return;
    ++rxq_.last_used;
    rxq_.avail.ring[rxq_.avail.idx % kQueueSize] = pending_rx_;
    barrier();
    ++rxq_.avail.idx;
    pending_rx_ = 0xffff;
}

bool VirtioNet::send(const uint8_t* frame, uint32_t length) {
    if (length + kHeader > kBufferSize) return false;
    for (uint32_t i = 0; i < kHeader; ++i) tx_buffer_[i] = 0;
    for (uint32_t i = 0; i < length; ++i) tx_buffer_[kHeader + i] = frame[i];
    txq_.desc[0] = {reinterpret_cast<uint64_t>(&tx_buffer_[0]), length + kHeader, 0, 0};
    txq_.avail.ring[txq_.avail.idx % kQueueSize] = 0;
    barrier();
    ++txq_.avail.idx;
    write32(kQueueNotify, 1);
    // The single transmit buffer is reused: wait until the device has taken this frame (with
    // output held for checkpointing it may take a while; the device copies it at once).
    while (static_cast<uint16_t>(txq_.used.idx) != txq_.last_used + 1) {
        asm volatile("pause");
        write32(kQueueNotify, 1);
    }
    ++txq_.last_used;
    return true;
}

}  // namespace guest
