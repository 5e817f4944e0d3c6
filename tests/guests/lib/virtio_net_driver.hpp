// A minimal polling virtio-net driver for test guests (virtio-mmio version 2, split queues,
// no interrupts, no offloads): enough for the counter service.
#pragma once

#include "guest.hpp"

namespace guest {

class VirtioNet {
public:
    static constexpr uint16_t kQueueSize = 16;
    static constexpr uint32_t kBufferSize = 2048;

    // Finds and initialises the device at `mmio`; false if it is not a virtio-net device.
    bool init(uintptr_t mmio);
    const uint8_t* mac() const { return mac_; }
    // A received frame (Ethernet, no virtio header) or nullptr; release() gives the buffer back.
    const uint8_t* receive(uint32_t& length);
    void release();
    // Sends a frame (copied); waits until the device has taken it.
    bool send(const uint8_t* frame, uint32_t length);

private:
    struct Desc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next;
    };
    struct Avail {
        uint16_t flags, idx, ring[kQueueSize], used_event;
    };
    struct UsedElem {
        uint32_t id, len;
    };
    struct Used {
        uint16_t flags, idx;
        UsedElem ring[kQueueSize];
        uint16_t avail_event;
    };
    struct Queue {
        alignas(16) Desc desc[kQueueSize];
        alignas(2) Avail avail;
        alignas(4096) Used used;
        uint16_t last_used;
    };

    uint32_t read32(uint32_t offset) const;
    void write32(uint32_t offset, uint32_t value);
    void setup_queue(uint32_t index, Queue& q);

    volatile uint32_t* regs_ = nullptr;
    uint8_t mac_[6]{};
    uint16_t pending_rx_ = 0xffff;
    alignas(4096) Queue rxq_;
    alignas(4096) Queue txq_;
    alignas(16) uint8_t rx_buffers_[kQueueSize][kBufferSize];
    alignas(16) uint8_t tx_buffer_[kBufferSize];
};

}  // namespace guest
