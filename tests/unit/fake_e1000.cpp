#include "fake_e1000.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>

#include "nic-drivers/e1000/descriptors.hpp"

namespace test {

using namespace tandem::nic::e1000;

namespace {

constexpr std::uint32_t kStatusSpeed1000 = 2u << 6;
constexpr std::size_t kMinFrameNoFcs = 60;  // TCTL.PSP pads to 64 bytes including the FCS
constexpr std::uint8_t kFakeFcs[4] = {0xde, 0xad, 0xbe, 0xef};

std::uint32_t receive_buffer_size(std::uint32_t rctl) {
    switch ((rctl & rctl::kBsizeMask) >> 16) {
        case 0: return 2048;
        case 1: return 1024;
        case 2: return 512;
        default: return 256;
    }
}

}  // namespace

FakeE1000::FakeE1000(FakeDmaMemory& dma, Mac mac) : dma_(dma), regs_(kRegisterWindow / 4, 0) {
    set_eeprom_mac(mac);
    reset();
    resets_ = 0;  // power-on, not a driver reset
    rst_pending_ = false;
}

void FakeE1000::set_eeprom_mac(Mac mac) {
    for (unsigned w = 0; w < 3; ++w) eeprom[w] = static_cast<std::uint16_t>(mac[2 * w] | mac[2 * w + 1] << 8);
    // Word 0x3f makes the sum of words 0-0x3f equal 0xbaba (the EEPROM checksum, 8254x SDM §5.6).
    std::uint16_t sum = 0;
    for (unsigned w = 0; w < 0x3f; ++w) sum = static_cast<std::uint16_t>(sum + eeprom[w]);
    eeprom[0x3f] = static_cast<std::uint16_t>(0xbaba - sum);
}

void FakeE1000::reset() {
    std::fill(regs_.begin(), regs_.end(), 0u);
    // Undefined after reset: make a driver that forgets to clear them visible.
    for (unsigned i = 0; i < kMtaEntries; ++i) r(mta(i)) = 0x5a5a'5a5au ^ i;
    for (unsigned i = 1; i < 16; ++i) {
        regs_[(kRal0.offset + 8 * i) / 4] = 0x0200'0000u | i;
        regs_[(kRah0.offset + 8 * i) / 4] = kRahAddressValid | 0x1234u;
    }
    fifo_.clear();
    tx_partial_.clear();
    rdh_broken_ = false;
    tdh_broken_ = false;
    std::optional<Mac> ra = knobs.ra_after_reset;
    if (!ra && knobs.autoload_ra) {
        Mac m{};
        for (unsigned w = 0; w < 3; ++w) {
            m[2 * w] = static_cast<std::uint8_t>(eeprom[w]);
            m[2 * w + 1] = static_cast<std::uint8_t>(eeprom[w] >> 8);
        }
        ra = m;
    }
    if (ra) {
        const Mac& m = *ra;
        r(kRal0) = static_cast<std::uint32_t>(m[0] | m[1] << 8 | m[2] << 16) | static_cast<std::uint32_t>(m[3]) << 24;
        r(kRah0) = static_cast<std::uint32_t>(m[4] | m[5] << 8) | kRahAddressValid;
    }
    ++resets_;
    rst_pending_ = true;
    rst_reads_left_ = knobs.reset_reads;
}

std::uint32_t FakeE1000::read32(std::uint32_t offset) {
    if (offset % 4 != 0 || offset + 4 > size()) {
        violation("read outside the register window at " + std::to_string(offset));
        return 0xffff'ffffu;
    }
    std::uint32_t& v = regs_[offset / 4];
    if (offset == kCtrl.offset && rst_pending_) {
        if (knobs.reset_stuck) return v | ctrl::kRst;
        if (rst_reads_left_ > 0) {
            --rst_reads_left_;
            return v | ctrl::kRst;
        }
        rst_pending_ = false;
    }
    if (offset == kIcr.offset || offset == kMpc.offset) {  // clear on read
        std::uint32_t value = v;
        v = 0;
        return value;
    }
    return v;
}

void FakeE1000::write32(std::uint32_t offset, std::uint32_t value) {
    if (offset % 4 != 0 || offset + 4 > size()) {
        violation("write outside the register window at " + std::to_string(offset));
        return;
    }
    std::uint32_t& v = regs_[offset / 4];
    if (offset == kCtrl.offset) {
        if ((value & ctrl::kRst) != 0) {
            reset();
            return;
        }
        v = value;
        if ((value & ctrl::kSlu) != 0 && knobs.link_partner) r(kStatus) |= status::kLu | status::kFd | kStatusSpeed1000;
    } else if (offset == kStatus.offset || offset == kMpc.offset) {
        // read only
    } else if (offset == kEerd.offset) {
        v = value & ~eerd::kDone;
        if ((value & eerd::kStart) != 0 && knobs.eeprom_answers) {
            std::uint32_t word = (value >> eerd::kAddressShift) & 0xff;
            std::uint32_t data = word < eeprom.size() ? eeprom[word] : 0;
            v = eerd::kDone | word << eerd::kAddressShift | data << eerd::kDataShift;
        }
    } else if (offset == kIcr.offset) {
        v &= ~value;
    } else if (offset == kIms.offset) {
        v |= value;
        if (value != 0) violation("a polled driver unmasked interrupts");
    } else if (offset == kImc.offset) {
        r(kIms) &= ~value;
    } else if (offset == kTdt.offset) {
        v = value;
        ++tdt_writes_;
        process_tx();
    } else if (offset == kRdt.offset) {
        v = value;
        ++rdt_writes_;
        deliver_rx();
    } else if (offset == kTdh.offset) {
        v = value;
        tdh_broken_ = false;
    } else if (offset == kRdh.offset) {
        v = value;
        rdh_broken_ = false;
    } else if (offset == kRctl.offset) {
        v = value;
        deliver_rx();
    } else if (offset == kTctl.offset) {
        v = value;
        process_tx();
    } else {
        v = value;
    }
}

bool FakeE1000::ring(std::uint32_t base_lo, std::uint32_t base_hi, std::uint32_t length, std::uint8_t*& out,
                     std::uint32_t& count) {
    if (length == 0 || length % kRingLengthGranule != 0) {
        violation("ring length " + std::to_string(length) + " is not a non-zero multiple of 128");
        return false;
    }
    std::uint64_t base = static_cast<std::uint64_t>(base_hi) << 32 | base_lo;
    if (base % 16 != 0) {
        violation("ring base not 16-byte aligned");
        return false;
    }
    out = dma_.translate(base, length);
    count = length / 16;
    return out != nullptr;
}

void FakeE1000::process_tx() {
    if ((r(kTctl) & tctl::kEn) == 0 || knobs.tx_stalled || tdh_broken_ || r(kTdh) == r(kTdt)) return;
    std::uint8_t* mem = nullptr;
    std::uint32_t n = 0;
    if (!ring(r(kTdbal), r(kTdbah), r(kTdlen), mem, n)) return;
    std::uint32_t& head = r(kTdh);
    std::uint32_t tail = r(kTdt);
    if (head >= n || tail >= n) {
        violation("transmit head or tail outside the ring");
        return;
    }
    while (head != tail) {
        std::uint8_t* d = mem + std::size_t{head} * 16;
        TxDescriptor desc;
        std::memcpy(&desc, d, sizeof desc);
        if ((desc.command & tx_command::kDext) != 0) violation("extended transmit descriptor");
        if (desc.length != 0) {
            std::uint8_t* data = dma_.translate(desc.buffer, desc.length);
            if (data == nullptr) return;
            tx_partial_.insert(tx_partial_.end(), data, data + desc.length);
        }
        if ((desc.command & tx_command::kEop) != 0) {
            if ((desc.command & tx_command::kIfcs) == 0) ++tx_without_fcs_;
            if ((r(kTctl) & tctl::kPsp) != 0 && tx_partial_.size() < kMinFrameNoFcs)
                tx_partial_.resize(kMinFrameNoFcs, 0);
            Octets frame;
            frame.swap(tx_partial_);
            if (peer_ != nullptr) {
                peer_->inject(std::move(frame));
            } else {
                wire_.push_back(std::move(frame));
            }
        }
        if ((desc.command & tx_command::kRs) != 0) {
            d[offsetof(TxDescriptor, status)] |= static_cast<std::uint8_t>(tx_status::kDd | knobs.tx_extra_status);
        }
        head = head + 1 == n ? 0 : head + 1;
    }
}

void FakeE1000::inject(Octets frame, std::uint8_t errors) {
    if (fifo_.size() >= knobs.rx_fifo) {
        ++r(kMpc);
        return;
    }
    fifo_.push_back({std::move(frame), errors});
    deliver_rx();
}

bool FakeE1000::accepts(const Octets& frame) const {
    if (frame.size() < 6) return true;
    std::uint32_t rctl = regs_[kRctl.offset / 4];
    bool broadcast = std::all_of(frame.begin(), frame.begin() + 6, [](std::uint8_t b) { return b == 0xff; });
    if (broadcast) return (rctl & rctl::kBam) != 0;
    if ((frame[0] & 1u) != 0) return (rctl & rctl::kMpe) != 0;  // the MTA hash is not modelled
    if ((rctl & rctl::kUpe) != 0) return true;
    std::uint32_t low = static_cast<std::uint32_t>(frame[0] | frame[1] << 8 | frame[2] << 16) |
                        static_cast<std::uint32_t>(frame[3]) << 24;
    std::uint32_t high = static_cast<std::uint32_t>(frame[4] | frame[5] << 8);
    for (unsigned i = 0; i < 16; ++i) {
        std::uint32_t rah = regs_[(kRah0.offset + 8 * i) / 4];
        if ((rah & kRahAddressValid) != 0 && regs_[(kRal0.offset + 8 * i) / 4] == low && (rah & 0xffff) == high)
            return true;
    }
    return false;
}

void FakeE1000::deliver_rx() {
    while (!fifo_.empty()) {
        std::uint32_t rctl = r(kRctl);
        if ((rctl & rctl::kEn) == 0 || rdh_broken_) return;
        std::uint8_t* mem = nullptr;
        std::uint32_t n = 0;
        if (!ring(r(kRdbal), r(kRdbah), r(kRdlen), mem, n)) return;
        std::uint32_t& head = r(kRdh);
        std::uint32_t tail = r(kRdt);
        if (head >= n || tail >= n) {
            violation("receive head or tail outside the ring");
            return;
        }
        Pending& p = fifo_.front();
        if (!accepts(p.frame)) {
            fifo_.pop_front();
            ++filtered_;
            continue;
        }
        Octets data = p.frame;
        if ((rctl & rctl::kSecrc) == 0) data.insert(data.end(), kFakeFcs, kFakeFcs + 4);
        std::uint32_t bsize = receive_buffer_size(rctl);
        std::size_t needed = std::max<std::size_t>(1, (data.size() + bsize - 1) / bsize);
        std::uint32_t available = (tail + n - head) % n;
        if (available < needed) return;  // wait until the driver returns descriptors
        for (std::size_t k = 0, off = 0; k < needed; ++k) {
            std::uint8_t* d = mem + std::size_t{head} * 16;
            RxDescriptor desc;
            std::memcpy(&desc, d, sizeof desc);
            std::uint8_t* buffer = dma_.translate(desc.buffer, bsize);
            if (buffer == nullptr) return;
            std::size_t len = std::min<std::size_t>(bsize, data.size() - off);
            std::memcpy(buffer, data.data() + off, len);
            off += len;
            bool last = k + 1 == needed;
            desc.length = static_cast<std::uint16_t>(len);
            if (last && has_corrupt_length_) {
                desc.length = corrupt_length_;
                has_corrupt_length_ = false;
            }
            desc.checksum = 0;
            desc.errors = last ? p.errors : 0;
            desc.special = 0;
            desc.status = static_cast<std::uint8_t>(rx_status::kDd | (last ? rx_status::kEop : 0));
            std::memcpy(d, &desc, sizeof desc);
            head = head + 1 == n ? 0 : head + 1;
        }
        fifo_.pop_front();
    }
}

void FakeE1000::resume_tx() {
    knobs.tx_stalled = false;
    process_tx();
}

void FakeE1000::break_rdh(std::uint32_t value) {
    r(kRdh) = value;
    rdh_broken_ = true;
}

void FakeE1000::break_tdh(std::uint32_t value) {
    r(kTdh) = value;
    tdh_broken_ = true;
}

void FakeE1000::violation(const std::string& what) {
    violations_.push_back("fake e1000: " + what);
    if (strict_) FAIL_CHECK(violations_.back());
}

}  // namespace test
