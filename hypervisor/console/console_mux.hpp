// One serial line, two consoles (issue 16): what is typed on tandem's serial line goes to the
// guest's console (its 16550, through ConsoleInputSink) or to tandem's shell. The guest's console
// is the default; an escape sequence switches, as QEMU's character multiplexer does:
//
//   Ctrl-A c        switch between the guest's console and tandem's shell
//   Ctrl-A Ctrl-A   a Ctrl-A for the guest
//   Ctrl-A h (or ?) the list of these
//
// Anything else after Ctrl-A is refused with a message, never passed on silently. Input for the
// guest waits here (kTypeAhead bytes) until its UART has room (deliver(), at every tick); what
// does not fit, or what is typed while this machine runs no guest (a backup), is dropped and
// said so on the console. tandem's messages are printed in both views; the console's output
// side (ConsoleView: buffered_console.hpp) marks them in the guest's view and holds the guest's
// output back while the shell is shown.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hypervisor/console/console_input_sink.hpp"
#include "hypervisor/console/console_view.hpp"
#include "hypervisor/console/shell.hpp"
#include "hypervisor/console/writer.hpp"

namespace tandem {

class ConsoleMux {
public:
    static constexpr char kEscape = 0x01;  // Ctrl-A
    static constexpr std::size_t kTypeAhead = 256;
    enum class View : std::uint8_t { guest, shell };

    ConsoleMux(Shell& shell, Writer& out, ConsoleView* view = nullptr) : shell_(shell), out_(out), view_out_(view) {}

    // The guest's serial port while this machine runs a guest; nullptr while it does not.
    void attach_guest(ConsoleInputSink* sink);
    // One character from the serial line.
    void feed(char c);
    // Typed input into the guest's port, as much as it has room for.
    void deliver();

    View view() const { return view_; }
    std::size_t waiting() const { return count_; }
    std::uint64_t dropped() const { return dropped_; }

    // The line every session prints once the console takes input (tests wait for its start).
    static void announce_ready(Writer& out);

private:
    void escape_command(char c);
    void switch_view();
    void type_for_guest(char c);
    void say_between_lines();
    void restore_shell_line();

    Shell& shell_;
    Writer& out_;
    ConsoleView* view_out_;
    ConsoleInputSink* guest_ = nullptr;
    View view_ = View::guest;
    bool escaped_ = false;
    char typed_[kTypeAhead]{};
    std::size_t head_ = 0, count_ = 0;
    std::uint64_t dropped_ = 0;
    std::uint64_t overflow_unreported_ = 0;  // dropped for want of type-ahead, not yet counted aloud
    bool no_guest_said_ = false;
};

}  // namespace tandem
