// tandem's console between its writers and the UART (issue 14, defect 2; issue 16's raw guest
// view): rings over fixed storage (console_ring.hpp), so that no exit handler waits for the
// serial line.
//
// Three writers share the line:
//   * tandem's own messages (this object): never dropped. While buffered they are copied into
//     the ring; if it is full, bytes drain synchronously until the message fits, which waits
//     at most for the message's own length.
//   * the guest's UART (guest()): its bytes exactly as the guest wrote them (line ends,
//     prompts without a newline, terminal escapes), in the order written. A byte that does not
//     fit, leaving kDropBelow bytes for tandem's messages, is dropped and counted, and so is what
//     follows until the ring has drained to its low-water mark; then a line says how much was
//     lost. The guest never makes an exit wait.
//   * lines written for the guest (guest_lines(): the print hypercall's "guest (hypercall): "
//     lines): whole lines or nothing, dropped and counted like the guest's bytes.
//
// Telling tandem from the guest on one line: in the guest's view every line tandem writes
// starts with kMarker ("|tandem| ", or "|tandem|" alone for an empty line), and a guest line
// that starts with '|' (after "\n" or "\r") is sent with a space before it, so the guest can
// never write a line that looks like tandem's. tandem's messages wait (in the held ring) while
// the guest is in the middle of a line, up to kHoldMs, so a guest line is not cut in two by
// them; after that, or when the guest's line ends, the row is ended with "\r\n" and they follow.
// In tandem's shell (show_shell(true)) tandem's output is not marked and the guest's bytes wait
// in the held ring until the guest's view returns (what does not fit is dropped, counted and
// said then): nothing the guest prints can pose as the shell's answer. Back in the guest's view
// they go into the ring as it drains, and the guest's new bytes wait behind them. There a message that is
// not the shell's own (ConsoleView::shell_input) starts a row of its own and the prompt and the
// line being typed are drawn again after it.
//
// Buffered (set_buffered(true), while a guest runs and while a session waits in its idle loop),
// writes only copy into the ring, and drain() sends what the UART takes without waiting (at
// every exit and tick, and in idle loops). Otherwise (boot, refusals, the moment a guest run
// ends) output is synchronous once the ring is empty,
// so nothing is left in a buffer if tandem then hangs; flush() (halting, exceptions) sends
// everything, waiting. tandem's "\n" leaves as "\r\n" so any serial terminal shows proper lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "hypervisor/console/console_ring.hpp"
#include "hypervisor/console/console_view.hpp"
#include "hypervisor/console/serial_port.hpp"
#include "hypervisor/console/writer.hpp"

namespace tandem {

class BufferedConsole final : public Writer, public ConsoleView {
public:
    static constexpr std::size_t kReserve = 1024;   // never taken by the guest's output: tandem's messages
    // has_room() keeps kReserve free, but a byte is dropped only when it would leave less than
    // this: room promised to the guest (a THRE: up to a FIFO's 16 bytes) is not lost to tandem
    // messages written before the guest uses it.
    static constexpr std::size_t kDropBelow = kReserve / 2;
    static constexpr std::size_t kMarkerMax = 160;  // the longest "guest output dropped" line
    static constexpr std::string_view kMarker = "|tandem|";
    static constexpr std::uint64_t kHoldMs = 200;   // the longest a message waits for a guest line's end
    static constexpr std::uint64_t kNoTime = ~0ull;

    constexpr BufferedConsole(std::span<char> storage, std::span<char> held, SerialPort& port)
        : ring_(storage), held_(held), port_(port), guest_bytes_(*this), guest_lines_(*this) {}
    BufferedConsole(const BufferedConsole&) = delete;
    BufferedConsole& operator=(const BufferedConsole&) = delete;

    // tandem's own messages.
    void write(std::string_view text) override;
    // Everything out, waiting for the UART; synchronous afterwards until set_buffered(true).
    void flush() override;
    // The guest's UART: its bytes as written.
    Writer& guest() { return guest_bytes_; }
    // Whole lines written on the guest's behalf (the print hypercall).
    Writer& guest_lines() { return guest_lines_; }

    void show_shell(bool shell) override;
    void shell_input(bool typing, ShellLine& line) override;
    bool shell_shown() const { return shell_; }

    void set_buffered(bool on);
    bool buffered() const { return buffered_; }
    // Sends what the UART takes now (never waits); reports dropped guest output once room returns;
    // with the time (ms, any epoch), ends a guest line that has held tandem's messages kHoldMs.
    void drain(std::uint64_t now_ms = kNoTime);
    // Sends, waiting for the UART, until at most `bytes` wait: a loop that passes by drain()
    // seldom (a backup busy receiving) keeps its messages at most that far behind.
    void send_down_to(std::size_t bytes) {
        if (ring_.committed() > bytes) send_waiting(ring_.committed() - bytes);
    }

    std::size_t waiting() const { return ring_.size(); }  // bytes not yet sent (held ones aside)
    std::size_t held_messages() const { return held_kind_ == Held::messages ? held_.size() : 0; }
    std::uint64_t dropped_bytes() const { return dropped_bytes_; }
    std::uint64_t dropped_lines() const { return dropped_lines_; }
    // The guest's bytes that did not fit the held ring while tandem's shell was shown, in all.
    std::uint64_t dropped_in_shell() const { return shell_dropped_total_; }

private:
    class GuestBytes final : public Writer {
    public:
        constexpr explicit GuestBytes(BufferedConsole& owner) : owner_(owner) {}
        void write(std::string_view text) override {
            for (char c : text) owner_.guest_byte(c);
        }
        void flush() override { owner_.flush(); }
        bool has_room(std::size_t bytes) const override { return owner_.guest_bytes_have_room(bytes); }

    private:
        BufferedConsole& owner_;
    };
    class GuestLines final : public Writer {
    public:
        constexpr explicit GuestLines(BufferedConsole& owner) : owner_(owner) {}
        void write(std::string_view text) override { owner_.write_guest_line(text); }
        void flush() override { owner_.flush(); }

    private:
        BufferedConsole& owner_;
    };
    enum class Held : std::uint8_t { nothing, messages, guest_bytes };
    enum class Target : std::uint8_t { port, ring, held };

    bool synchronous() const { return !buffered_ && ring_.empty(); }
    bool unreported() const { return dropped_bytes_ != reported_bytes_; }
    std::size_t low_water() const;

    // tandem's text as it goes on the line (marker, "\r\n"), to `target`; returns its size.
    std::size_t encode(std::string_view text, Target target, bool count_only = false);
    void emit(std::string_view bytes, Target target);
    void put_through(std::string_view bytes);  // straight to the UART, waiting
    void send_waiting(std::size_t bytes);       // committed bytes, oldest first, waiting
    void make_room(std::size_t bytes);          // in the ring, waiting for the UART if it must
    void write_now(std::string_view text);      // to the ring (or the UART), not held
    // Ends the guest's unfinished row ("\r\n"), so tandem's output starts a row of its own.
    void end_guest_row();
    void release_held_messages();
    // A message in the shell's view, not the shell's own: on a row of its own, the line redrawn.
    bool beside_shell_line() const { return shell_ && !shell_typing_ && shell_line_ != nullptr; }
    void write_beside_shell_line(std::string_view text);
    void cut_shell_row();
    void restore_shell_line();
    void report_drops();

    // The guest's side (buffered_console_guest.cpp).
    void guest_byte(char c);
    void hold_guest_byte(char c);
    void show_held_guest_bytes(bool wait);
    void show_guest_byte(char c);
    // To the ring, or straight to the UART when output is synchronous and `may_wait`.
    void send_guest_byte(char c, bool may_wait = true);
    void drop_guest_byte(char c);
    void write_guest_line(std::string_view text);
    void write_guest_line_pieces(std::string_view text);
    bool guest_bytes_have_room(std::size_t bytes) const;
    void start_guest_line();
    void abandon_guest_line();
    void close_guest_line();

    ConsoleRing ring_;
    ConsoleRing held_;
    SerialPort& port_;
    GuestBytes guest_bytes_;
    GuestLines guest_lines_;
    bool buffered_ = false;
    bool shell_ = false;
    bool shell_typing_ = false;     // between shell_input(true) and shell_input(false)
    bool shell_row_cut_ = false;    // a message's row is open where the shell's prompt was
    ShellLine* shell_line_ = nullptr;
    Held held_kind_ = Held::nothing;
    std::uint64_t held_since_ms_ = kNoTime;
    bool row_start_ = true;        // tandem's output is at the start of a line (a marker is due)
    bool guest_row_open_ = false;  // the guest's last byte on the line was not "\n"
    bool guest_at_start_ = true;   // the guest's next byte starts a row ("|" is escaped)
    bool line_open_ = false;       // a line for the guest is in the ring, uncommitted
    bool dropping_line_ = false;   // the rest of such a line that did not fit is being dropped
    bool dropping_ = false;        // the guest's output is dropped until the ring has drained
    std::uint64_t open_bytes_ = 0;
    std::uint64_t dropped_bytes_ = 0, dropped_lines_ = 0;
    std::uint64_t reported_bytes_ = 0, reported_lines_ = 0;
    std::uint64_t shell_dropped_bytes_ = 0;  // the guest's, while tandem's shell was shown, not yet said
    std::uint64_t shell_dropped_total_ = 0;
};

}  // namespace tandem
