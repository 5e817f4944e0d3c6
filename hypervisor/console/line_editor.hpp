// The shell's line editing (issue 16: "line editing and history that a person at a terminal
// expects"), over a terminal that speaks VT100/ECMA-48 (every serial terminal program, IPMI SoL):
//
//   Backspace/DEL  erase before the cursor     Left/Right (ESC [ D / C)  move the cursor
//   Delete (ESC [ 3 ~) erase at the cursor     Home/End (ESC [ H / F, ESC O H / F, Ctrl-E)
//   Ctrl-U  erase the line                     Up/Down (ESC [ A / B)  the last kHistory lines
//   Ctrl-W  erase the word before the cursor   Ctrl-C  abandon the line
//
// Ctrl-A is not Home here: it is the console multiplexer's escape (console_mux.hpp). Echo and
// redraw use only backspace, printable characters and spaces, so any terminal shows them right.
// A line longer than kMaxLine is not cut: it is marked overflowed and refused whole at Enter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hypervisor/console/writer.hpp"

namespace tandem {

class LineEditor {
public:
    static constexpr std::size_t kMaxLine = 120;
    static constexpr std::size_t kHistory = 8;
    enum class Outcome : std::uint8_t { editing, line_ready, cancelled };

    explicit LineEditor(Writer& echo) : echo_(echo) {}

    // One character typed. After line_ready, line() and overflowed() describe the line until the
    // next feed().
    Outcome feed(char c);
    std::string_view line() const { return {line_, length_}; }
    bool overflowed() const { return overflow_; }
    // The line being edited again, cursor where it was (after other output moved to a new row).
    void redraw();

private:
    enum class Escape : std::uint8_t { none, started, csi, ss3 };

    Outcome feed_escape(char c);
    void csi_final(char c);
    Outcome finish_line();
    void insert(char c);
    void erase_before(std::size_t count);
    void erase_at_cursor();
    void move_left(std::size_t count);
    void move_right(std::size_t count);
    void replace_line(std::string_view text);
    void redraw_from_cursor(std::size_t erased);
    void remember(std::string_view text);
    void recall(int direction);
    void clear_state();

    Writer& echo_;
    char line_[kMaxLine]{};
    std::size_t length_ = 0, cursor_ = 0;
    bool overflow_ = false;
    bool ready_ = false;  // the last feed() ended a line: the next one starts afresh
    bool after_cr_ = false;
    Escape escape_ = Escape::none;
    unsigned parameter_ = 0;
    char history_[kHistory][kMaxLine]{};
    std::size_t history_length_[kHistory]{};
    std::size_t history_count_ = 0;    // entries held, newest at index history_count_ - 1
    std::size_t history_browse_ = 0;   // while browsing: how many entries back (0: the new line)
};

}  // namespace tandem
