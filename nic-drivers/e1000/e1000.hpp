// The Intel 82540EM (e1000) driver, polled: no interrupts, legacy descriptors, one 2 KiB DMA
// buffer per descriptor, frames copied in and out (8254x SDM §14: initialisation; §3.2 receive,
// §3.3 transmit). It reaches the device only through a register window and DMA memory, and
// hands the device only physical addresses of buffers it allocated.
//
// Rings: the device owns [head, tail), the driver the rest (§3.2.6, §3.3.4). Receive keeps one
// descriptor back (RDT = next-to-clean - 1), so head == tail only when the ring is exhausted;
// transmit keeps one free (tail + 1 == next-to-clean means full). Every index the driver uses is
// its own, reduced modulo the ring size; head registers are read only to check the device, and
// a head out of range or outside the region the device may own stops the NIC (health()), with
// receive and transmit disabled so a confused device stops writing into memory.
//
// Not thread-safe: one caller (the polling loop). A FrameSink must not call receive().
#pragma once

#include <cstdint>

#include "nic-drivers/delay.hpp"
#include "nic-drivers/dma.hpp"
#include "nic-drivers/e1000/descriptors.hpp"
#include "nic-drivers/e1000/mac_address.hpp"
#include "nic-drivers/e1000/registers.hpp"
#include "nic-drivers/mmio.hpp"
#include "nic-drivers/nic.hpp"

namespace tandem::nic {

// How the driver presents itself in info().
struct NicIdentity {
    const char* model = "82540EM";
    bool on_pci = false;
    pci::Address pci{};
};

class E1000 final : public Nic {
public:
    static constexpr std::uint16_t kMtu = 1500;
    // 1500-byte payload + 14-byte header + a 4-byte 802.1Q tag; FCS added/stripped by the device.
    // RCTL.LPE stays off, so the device itself refuses longer frames (§13.4.22).
    static constexpr std::uint16_t kMaxFrame = 1518;
    static_assert(kMaxFrame <= e1000::kRxBufferSize && kMaxFrame <= e1000::kTxBufferSize);

    E1000(MmioWindow& registers, DmaMemory& dma, Delay& delay, const NicIdentity& identity = {})
        : regs_(&registers), dma_(&dma), delay_(&delay), identity_(identity) {}
    E1000(const E1000&) = delete;
    E1000& operator=(const E1000&) = delete;

    // Resets the device, reads its MAC address, sets up both rings and asks for link. May be
    // called again (after a fault, or to change options): it resets first, so the device has
    // stopped using the old rings before they are reused or released.
    Status start(const NicOptions& options = {});
    // Resets the device (stopping all DMA) and releases the DMA memory.
    void stop();

    e1000::MacSource mac_source() const { return mac_source_; }

    NicInfo info() const override;
    bool link_up() override;
    std::size_t transmit(std::span<const Frame> frames) override;
    std::size_t receive(FrameSink& sink, std::size_t budget) override;
    std::size_t tx_pending() override;
    NicCounters counters() override;
    Status health() const override;

private:
    std::uint32_t read(e1000::Register r) { return regs_->read32(r.offset); }
    void write(e1000::Register r, std::uint32_t v) { regs_->write32(r.offset, v); }

    Status reset();
    Status allocate(const NicOptions& options);
    void release();
    void configure_link();
    void setup_rx(bool promiscuous);
    void setup_tx();
    void reclaim_tx();
    bool tx_head_sane();
    bool rx_head_sane();
    void fail(Error error);
    // Descriptors are device-shared memory: every access is a volatile access.
    volatile e1000::RxDescriptor& rx_descriptor(std::uint32_t i);
    volatile e1000::TxDescriptor& tx_descriptor(std::uint32_t i);
    bool deliver(std::uint32_t i, std::uint8_t status, FrameSink& sink);

    MmioWindow* regs_;
    DmaMemory* dma_;
    Delay* delay_;
    NicIdentity identity_;
    MacAddress mac_{};
    e1000::MacSource mac_source_ = e1000::MacSource::eeprom;

    DmaBuffer rx_ring_{};
    DmaBuffer tx_ring_{};
    DmaBuffer rx_buffers_{};
    DmaBuffer tx_buffers_{};
    std::uint32_t rx_count_ = 0;  // descriptors in each ring
    std::uint32_t tx_count_ = 0;

    std::uint32_t rx_next_ = 0;   // next descriptor the device completes
    bool rx_discarding_ = false;  // inside a frame that spans descriptors: drop until EOP
    std::uint32_t tx_tail_ = 0;   // next free descriptor (the TDT value)
    std::uint32_t tx_clean_ = 0;  // oldest descriptor in flight

    bool running_ = false;
    bool failed_ = false;
    Error fault_{};
    NicCounters counters_{};
};

}  // namespace tandem::nic
