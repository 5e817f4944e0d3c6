// A register-level fake Intel 82540EM for the driver's host tests. It implements the MMIO window
// the driver talks to and behaves like the device where the driver depends on it (8254x SDM):
//   - CTRL.RST resets the registers, stays set for a few reads, then self-clears; after reset
//     RAL0/RAH0 hold the EEPROM's address (autoload, §5.6), while the multicast table and
//     receive addresses 1-15 hold garbage (their reset value is undefined, §13.5); STATUS.LU
//     follows CTRL.SLU when a link partner is present; ICR clears on read, IMS/IMC set and
//     clear the mask; MPC clears on read.
//   - EERD returns EEPROM words (82540 layout: done bit 4, address 15:8, data 31:16).
//   - A TDT write processes legacy descriptors from TDH to TDT: reads each descriptor and its
//     buffer from fake DMA memory, collects frames up to EOP, pads short frames when TCTL.PSP
//     is set, sets DD when RS asks, advances TDH, and puts the frame on the wire (a queue, or
//     the connected peer's receive side).
//   - Frames arriving from the wire wait in a FIFO and are written into the buffers of the
//     descriptors at RDH while RDH != RDT and RCTL.EN: length, errors, DD and (on the last
//     buffer of a frame) EOP; frames longer than a buffer span several descriptors. With
//     RCTL.SECRC clear a 4-byte FCS is appended. The destination filter honours RAL/RAH, BAM,
//     UPE and MPE. A full FIFO loses frames and counts them in MPC.
// Every DMA access goes through FakeDmaMemory::translate, which fails the test on an address
// the driver never allocated. Violations of the programming model (bad ring length, index out
// of range, extended descriptors, interrupts unmasked) are recorded and fail the test too.
// Knobs inject faults: EEPROM silent, no link partner, reset stuck, TX stalled, error bits on a
// received frame, a corrupted receive length, RDH/TDH set to garbage.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "fake_dma.hpp"
#include "nic-drivers/e1000/registers.hpp"
#include "nic-drivers/mmio.hpp"

namespace test {

using Octets = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, 6>;

class FakeE1000 final : public tandem::nic::MmioWindow {
public:
    struct Knobs {
        bool eeprom_answers = true;
        bool link_partner = true;
        unsigned reset_reads = 2;  // CTRL reads that still show RST after a reset
        bool reset_stuck = false;
        bool tx_stalled = false;            // TDT writes are accepted but nothing is sent
        std::size_t rx_fifo = 4096;         // frames held while no descriptor is free
        bool autoload_ra = true;            // after reset RAL0/RAH0 hold the EEPROM address (§5.6)
        std::optional<Mac> ra_after_reset;  // ... or this address (firmware-programmed)
        std::uint8_t tx_extra_status = 0;   // status bits written back with DD (EC, LC)
    };

    FakeE1000(FakeDmaMemory& dma, Mac mac);

    // MmioWindow
    std::uint32_t size() const override { return tandem::nic::e1000::kRegisterWindow; }
    std::uint32_t read32(std::uint32_t offset) override;
    void write32(std::uint32_t offset, std::uint32_t value) override;

    // The wire.
    void inject(Octets frame, std::uint8_t errors = 0);  // a frame arrives
    void connect(FakeE1000& peer) { peer_ = &peer; }     // transmit to peer instead of wire()
    std::deque<Octets>& wire() { return wire_; }

    // Knobs and faults.
    Knobs knobs;
    std::array<std::uint16_t, 64> eeprom{};
    void set_eeprom_mac(Mac mac);
    void resume_tx();                     // clears tx_stalled and sends what is queued
    void break_rdh(std::uint32_t value);  // the device's RDH becomes `value`
    void break_tdh(std::uint32_t value);
    void corrupt_next_rx_length(std::uint16_t length) {
        corrupt_length_ = length;
        has_corrupt_length_ = true;
    }

    // Observation.
    std::uint32_t reg(tandem::nic::e1000::Register r) const { return regs_[r.offset / 4]; }
    unsigned resets() const { return resets_; }
    unsigned tdt_writes() const { return tdt_writes_; }
    unsigned rdt_writes() const { return rdt_writes_; }
    std::size_t frames_waiting() const { return fifo_.size(); }
    std::size_t filtered() const { return filtered_; }
    std::size_t tx_without_fcs() const { return tx_without_fcs_; }
    const std::vector<std::string>& violations() const { return violations_; }
    void expect_violations() { strict_ = false; }

private:
    struct Pending {
        Octets frame;
        std::uint8_t errors;
    };

    void reset();
    void process_tx();
    void deliver_rx();
    bool accepts(const Octets& frame) const;
    bool ring(std::uint32_t base_lo, std::uint32_t base_hi, std::uint32_t length, std::uint8_t*& out,
              std::uint32_t& count);
    void violation(const std::string& what);
    std::uint32_t& r(tandem::nic::e1000::Register reg) { return regs_[reg.offset / 4]; }

    FakeDmaMemory& dma_;
    std::vector<std::uint32_t> regs_;
    FakeE1000* peer_ = nullptr;
    std::deque<Octets> wire_;
    std::deque<Pending> fifo_;
    Octets tx_partial_;
    bool rst_pending_ = false;
    unsigned rst_reads_left_ = 0;
    unsigned resets_ = 0;
    unsigned tdt_writes_ = 0;
    unsigned rdt_writes_ = 0;
    std::size_t filtered_ = 0;
    std::size_t tx_without_fcs_ = 0;
    bool rdh_broken_ = false;
    bool tdh_broken_ = false;
    bool has_corrupt_length_ = false;
    std::uint16_t corrupt_length_ = 0;
    bool strict_ = true;
    std::vector<std::string> violations_;
};

}  // namespace test
