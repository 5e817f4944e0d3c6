// tandem's console between its writers and the UART (issue 14, defect 2): a ring over fixed
// storage (console_ring.hpp), so that no exit handler waits for the serial line.
//
// Two writers share it, in the order they wrote:
//   * tandem's own messages (this object): never dropped. While buffered they are copied into
//     the ring; if it is full, bytes drain synchronously until the message fits, which waits
//     at most for the message's own length.
//   * the guest's output (guest(): the UART model's "guest: " lines, the print hypercall's
//     "guest (hypercall): " lines): whole lines or nothing. A line that does not fit, leaving
//     kReserve bytes for tandem's messages, is dropped and counted; so are the guest's lines
//     after it until the ring has drained to its low-water mark (half of what guest lines may
//     use), when a marker line says how much was lost. The guest never makes an exit wait.
//
// Buffered (set_buffered(true), while a guest runs), writes only copy into the ring, and drain()
// sends what the UART takes without waiting (at every exit and tick, and in idle loops).
// Otherwise (boot, refusals, between guest runs) output is synchronous once the ring is empty,
// so nothing is left in a buffer if tandem then hangs; flush() (halting, exceptions) sends
// everything, waiting. "\n" leaves as "\r\n" so any serial terminal shows proper lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "hypervisor/console/console_ring.hpp"
#include "hypervisor/console/serial_port.hpp"
#include "hypervisor/console/writer.hpp"

namespace tandem {

class BufferedConsole final : public Writer {
public:
    static constexpr std::size_t kReserve = 1024;   // never taken by guest lines: tandem's messages
    static constexpr std::size_t kMarkerMax = 160;  // the longest "guest output dropped" line

    constexpr BufferedConsole(std::span<char> storage, SerialPort& port) : ring_(storage), port_(port), guest_(*this) {}
    BufferedConsole(const BufferedConsole&) = delete;
    BufferedConsole& operator=(const BufferedConsole&) = delete;

    // tandem's own messages.
    void write(std::string_view text) override;
    // Everything out, waiting for the UART; synchronous afterwards until set_buffered(true).
    void flush() override;
    // The guest's output.
    Writer& guest() { return guest_; }

    void set_buffered(bool on) { buffered_ = on; }
    bool buffered() const { return buffered_; }
    // Sends what the UART takes now (never waits); reports dropped guest output once room returns.
    void drain();

    std::size_t waiting() const { return ring_.size(); }  // bytes not yet sent
    std::uint64_t dropped_bytes() const { return dropped_bytes_; }
    std::uint64_t dropped_lines() const { return dropped_lines_; }

private:
    class GuestLines final : public Writer {
    public:
        constexpr explicit GuestLines(BufferedConsole& owner) : owner_(owner) {}
        void write(std::string_view text) override { owner_.write_guest(text); }
        void flush() override { owner_.flush(); }
        bool has_room(std::size_t bytes) const override { return owner_.guest_has_room(bytes); }

    private:
        BufferedConsole& owner_;
    };

    bool synchronous() const { return !buffered_ && ring_.empty(); }
    bool unreported() const { return dropped_bytes_ != reported_bytes_; }
    void write_guest(std::string_view text);
    bool guest_has_room(std::size_t bytes) const;
    void start_guest_line();
    void abandon_guest_line();
    void close_guest_line();
    // The marker line for what was dropped since the last one; without `force` only once the
    // ring has drained to low_water() (then it never waits).
    bool report_drops(bool force);
    std::size_t low_water() const;
    void append(std::string_view text);            // room checked by the caller
    void put_through(std::string_view text);       // straight to the UART, waiting
    void send_waiting(std::size_t bytes);          // committed bytes, oldest first, waiting

    ConsoleRing ring_;
    SerialPort& port_;
    GuestLines guest_;
    bool buffered_ = false;
    bool line_open_ = false;  // a guest line is in the ring, uncommitted
    bool dropping_ = false;   // the rest of a guest line that did not fit is being dropped
    std::uint64_t open_bytes_ = 0;
    std::uint64_t dropped_bytes_ = 0, dropped_lines_ = 0;
    std::uint64_t reported_bytes_ = 0, reported_lines_ = 0;
};

}  // namespace tandem
