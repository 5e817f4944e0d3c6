// E1000 bring-up: reset, MAC, link, rings (8254x SDM §14.3-§14.5), and the queries.
#include "nic-drivers/e1000/e1000.hpp"

namespace tandem::nic {

using namespace e1000;

namespace {

constexpr std::uint32_t kQuiesceMicroseconds = 10'000;  // let DMA in progress finish before reset
constexpr std::uint32_t kResetPolls = 1000;
constexpr std::uint32_t kResetPollMicroseconds = 10;
constexpr std::uint32_t kEepromAutoReadMicroseconds = 5000;  // 82540: reload after reset
constexpr std::uint32_t kAllInterrupts = 0xffff'ffffu;

constexpr bool valid_ring_size(std::uint16_t n) {
    return n >= kRingLengthGranule / 16 && n <= kMaxRingDescriptors && (n * 16u) % kRingLengthGranule == 0;
}

std::uint32_t low32(std::uint64_t v) { return static_cast<std::uint32_t>(v); }
std::uint32_t high32(std::uint64_t v) { return static_cast<std::uint32_t>(v >> 32); }

}  // namespace

Status E1000::start(const NicOptions& options) {
    if (!valid_ring_size(options.rx_descriptors) || !valid_ring_size(options.tx_descriptors)) {
        return Error::of("e1000: ring size must be a multiple of 8 between 8 and 4096");
    }
    if (regs_->size() < kRegisterWindow) return Error::of("e1000: register window smaller than 128 KiB", regs_->size());
    running_ = false;
    failed_ = false;
    fault_ = Error{};
    if (auto s = reset(); !s) return s;
    if (auto s = allocate(options); !s) return s;
    auto mac = read_mac_address(*regs_, *delay_);
    if (!mac) return mac.error();
    mac_ = mac->mac;
    mac_source_ = mac->source;
    write_receive_address(*regs_, 0, mac_);
    for (unsigned i = 1; i < kReceiveAddresses; ++i) clear_receive_address(*regs_, i);
    for (unsigned i = 0; i < kMtaEntries; ++i) write(mta(i), 0);  // no multicast groups (§14.4)
    configure_link();
    setup_rx(options.promiscuous);
    setup_tx();
    running_ = true;
    return success();
}

void E1000::stop() {
    if (reset()) release();  // a device that did not reset may still DMA: keep its memory
    running_ = false;
}

// §14.3 (and what Linux's e1000_reset_hw does for the 82540): mask interrupts, stop receive and
// transmit, let in-flight DMA drain, then CTRL.RST, which self-clears (§13.4.1).
Status E1000::reset() {
    if (read(kStatus) == 0xffff'ffffu)
        return Error::of("e1000: registers read all ones (BAR not mapped, or no device)");
    write(kImc, kAllInterrupts);
    write(kRctl, 0);
    write(kTctl, tctl::kPsp);
    (void)read(kStatus);  // flush posted writes
    delay_->microseconds(kQuiesceMicroseconds);
    write(kCtrl, read(kCtrl) | ctrl::kRst);
    delay_->microseconds(1);  // give the reset a moment before polling it (§13.4.1)
    std::uint32_t polls = 0;
    while ((read(kCtrl) & ctrl::kRst) != 0) {
        if (++polls == kResetPolls) return Error::of("e1000: reset did not complete (CTRL.RST stays set)");
        delay_->microseconds(kResetPollMicroseconds);
    }
    delay_->microseconds(kEepromAutoReadMicroseconds);
    write(kImc, kAllInterrupts);  // reset unmasks nothing, but be explicit: polled operation
    (void)read(kIcr);             // clear anything pending
    return success();
}

Status E1000::allocate(const NicOptions& options) {
    std::uint32_t rx = options.rx_descriptors;
    std::uint32_t tx = options.tx_descriptors;
    if (rx_ring_.valid() && rx == rx_count_ && tx == tx_count_) return success();  // reuse
    release();
    struct Need {
        DmaBuffer* buffer;
        std::size_t size;
    };
    const Need needs[] = {{&rx_ring_, rx * sizeof(RxDescriptor)},
                          {&tx_ring_, tx * sizeof(TxDescriptor)},
                          {&rx_buffers_, std::size_t{rx} * kRxBufferSize},
                          {&tx_buffers_, std::size_t{tx} * kTxBufferSize}};
    for (const Need& n : needs) {
        auto b = dma_->allocate(n.size);
        if (!b) {
            release();
            return b.error();
        }
        *n.buffer = *b;
        bool aligned = b->phys % kDmaAlignment == 0 && reinterpret_cast<std::uintptr_t>(b->cpu) % 16 == 0;
        if (!b->valid() || b->size < n.size || !aligned || b->phys + b->size < b->phys) {
            release();
            return Error::of("e1000: DMA memory too small or misaligned", b->phys);
        }
    }
    rx_count_ = rx;
    tx_count_ = tx;
    return success();
}

void E1000::release() {
    DmaBuffer* const all[] = {&rx_ring_, &tx_ring_, &rx_buffers_, &tx_buffers_};
    for (DmaBuffer* b : all) {
        if (b->valid()) dma_->release(*b);
        *b = DmaBuffer{};
    }
    rx_count_ = 0;
    tx_count_ = 0;
}

// §14.3 / §14.5 for the 82540EP/EM copper PHY: auto-speed detection, set link up, no forced
// speed or duplex, no link or PHY reset, no VLAN mode. Flow control is not used: its address and
// type registers are programmed to 0, as §14.3 asks.
void E1000::configure_link() {
    std::uint32_t c = read(kCtrl);
    c |= ctrl::kSlu | ctrl::kAsde;
    c &= ~(ctrl::kLrst | ctrl::kPhyRst | ctrl::kIlos | ctrl::kFrcspd | ctrl::kFrcdplx | ctrl::kVme);
    write(kCtrl, c);
    write(kFcal, 0);
    write(kFcah, 0);
    write(kFct, 0);
    write(kFcttv, 0);
}

volatile RxDescriptor& E1000::rx_descriptor(std::uint32_t i) {
    return reinterpret_cast<volatile RxDescriptor*>(rx_ring_.cpu)[i % rx_count_];
}

volatile TxDescriptor& E1000::tx_descriptor(std::uint32_t i) {
    return reinterpret_cast<volatile TxDescriptor*>(tx_ring_.cpu)[i % tx_count_];
}

// §14.4: ring base and length, head 0, tail one short of a full ring, then RCTL.
void E1000::setup_rx(bool promiscuous) {
    for (std::uint32_t i = 0; i < rx_count_; ++i) {
        volatile RxDescriptor& d = rx_descriptor(i);
        d.buffer = rx_buffers_.phys + std::uint64_t{i} * kRxBufferSize;
        d.length = 0;
        d.checksum = 0;
        d.status = 0;
        d.errors = 0;
        d.special = 0;
    }
    dma_write_barrier();
    write(kRdbal, low32(rx_ring_.phys));
    write(kRdbah, high32(rx_ring_.phys));
    write(kRdlen, rx_count_ * static_cast<std::uint32_t>(sizeof(RxDescriptor)));
    write(kRdh, 0);
    write(kRdt, rx_count_ - 1);
    write(kRdtr, 0);
    write(kRadv, 0);
    rx_next_ = 0;
    rx_discarding_ = false;
    std::uint32_t rctl = rctl::kEn | rctl::kBam | rctl::kSecrc | rctl::kBsize2048;
    if (promiscuous) rctl |= rctl::kUpe | rctl::kMpe;
    write(kRctl, rctl);
}

// §14.5: ring base and length, head = tail = 0, TIPG, then TCTL.
void E1000::setup_tx() {
    for (std::uint32_t i = 0; i < tx_count_; ++i) {
        volatile TxDescriptor& d = tx_descriptor(i);
        d.buffer = tx_buffers_.phys + std::uint64_t{i} * kTxBufferSize;
        d.length = 0;
        d.cso = 0;
        d.command = 0;
        d.status = 0;
        d.css = 0;
        d.special = 0;
    }
    dma_write_barrier();
    write(kTdbal, low32(tx_ring_.phys));
    write(kTdbah, high32(tx_ring_.phys));
    write(kTdlen, tx_count_ * static_cast<std::uint32_t>(sizeof(TxDescriptor)));
    write(kTdh, 0);
    write(kTdt, 0);
    write(kTidv, 0);
    write(kTipg, kTipgCopper);
    tx_tail_ = 0;
    tx_clean_ = 0;
    write(kTctl,
          tctl::kEn | tctl::kPsp | tctl::kCtRecommended << tctl::kCtShift | tctl::kColdFullDuplex << tctl::kColdShift);
}

void E1000::fail(Error error) {
    if (failed_) return;
    failed_ = true;
    fault_ = error;
    // Stop the device from touching the rings any further.
    write(kRctl, 0);
    write(kTctl, tctl::kPsp);
}

NicInfo E1000::info() const {
    NicInfo i;
    i.mac = mac_;
    i.mtu = kMtu;
    i.max_frame = kMaxFrame;
    i.rx_ring = static_cast<std::uint16_t>(rx_count_);
    i.tx_ring = static_cast<std::uint16_t>(tx_count_);
    i.driver = "e1000";
    i.model = identity_.model;
    i.on_pci = identity_.on_pci;
    i.pci = identity_.pci;
    return i;
}

bool E1000::link_up() { return (read(kStatus) & status::kLu) != 0; }

NicCounters E1000::counters() {
    if (running_) counters_.rx_missed += read(kMpc);  // clear on read (§13.7)
    return counters_;
}

Status E1000::health() const {
    if (failed_) return fault_;
    if (!running_) return Error::of("e1000: not started");
    return success();
}

}  // namespace tandem::nic
