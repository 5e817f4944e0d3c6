// One counter of the 8254 programmable interval timer (Intel 8254 data sheet, 231164): modes 0-5,
// binary or BCD counting, the LSB/MSB read and write sequences, the counter latch and the status
// latch of the read-back command, and the gate input.
//
// Time is in ticks of the PIT's 1.193182 MHz input clock, given by the caller; nothing ticks.
// A count is "loaded" on the first clock after it is written (or after the trigger in modes 1
// and 5), so after e clocks of counting the counting element shows N - (e - 1) in modes 0, 1, 4
// and 5, and OUT follows the data sheet's waveforms from the same e. The counter is kept as
// (start tick, clocks counted at the start), frozen while the gate holds it.
//
// Simplifications, none of which Linux relies on: a count written while a mode 2 or 3 counter
// runs takes effect at once (the chip waits for the end of the period); in modes 1 and 5 a new
// count waits for the next trigger and ends a pulse in progress; a count of 1 in modes 2 and 3
// (which the data sheet forbids) counts as 2.
#pragma once

#include <cstdint>
#include <optional>

#include "hypervisor/util/byte_stream.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem {

class PitCounter {
public:
    PitCounter() = default;
    explicit PitCounter(bool gate) : gate_(gate) {}

    // A control word for this counter (its RW field non-zero: not a latch command).
    void control(std::uint8_t control_word);
    void latch_count(std::uint64_t tick);
    void latch_status(std::uint64_t tick);
    std::uint8_t read(std::uint64_t tick);
    void write(std::uint8_t byte, std::uint64_t tick);
    void set_gate(bool high, std::uint64_t tick);

    bool gate() const { return gate_; }
    unsigned mode() const { return mode_bits_ > 5 ? mode_bits_ - 4u : mode_bits_; }
    bool output(std::uint64_t tick) const;
    // The counting element as a read would show it (BCD-encoded in BCD mode).
    std::uint16_t count(std::uint64_t tick) const;
    // Rising edges of OUT in (from, to], for a counter whose programming did not change between.
    std::uint64_t rising_edges(std::uint64_t from, std::uint64_t to) const;
    // The first tick after `after` at which OUT rises, if it will without further programming.
    std::optional<std::uint64_t> next_rising_edge(std::uint64_t after) const;

    void save(ByteWriter& out) const;
    // Reads what save() wrote and checks it; on failure the counter is unchanged.
    Status load(ByteReader& in, bool gate_fixed_high);

private:
    bool counting() const { return armed_ && ((mode() != 1 && mode() != 5) || triggered_); }
    std::uint64_t clocks(std::uint64_t tick) const;  // e: clocks since the count was written or triggered
    std::uint32_t modulus() const { return bcd_ ? 10000 : 65536; }
    std::uint32_t value(std::uint64_t tick) const;  // binary, before BCD encoding
    void load_count(std::uint64_t tick);

    std::uint8_t mode_bits_ = 3;  // M2-M0 as written (6 and 7 are modes 2 and 3)
    std::uint8_t access_ = 3;     // 1: LSB only, 2: MSB only, 3: LSB then MSB
    bool bcd_ = false;
    std::uint16_t count_register_ = 0;
    bool write_msb_next_ = false, read_msb_next_ = false;
    bool count_latched_ = false, status_latched_ = false;
    std::uint16_t latched_count_ = 0;
    std::uint8_t latched_status_ = 0;
    bool gate_ = true;
    bool armed_ = false;             // a count has been written since the last control word
    bool triggered_ = false;         // modes 1 and 5: a gate rising edge started the count
    bool frozen_ = false;            // modes 0, 2, 3, 4 with the gate low: not counting
    std::uint32_t n_ = 65536;        // the count in effect, 1..65536
    std::uint64_t start_ = 0;        // the tick at which counting (re)started
    std::uint64_t base_clocks_ = 0;  // clocks already counted at start_ (or held while frozen)
};

}  // namespace tandem
