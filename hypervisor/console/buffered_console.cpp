#include "hypervisor/console/buffered_console.hpp"

namespace tandem {
namespace {

constexpr std::string_view kMarkerAndSpace = "|tandem| ";
static_assert(kMarkerAndSpace.substr(0, BufferedConsole::kMarker.size()) == BufferedConsole::kMarker);

}  // namespace

std::size_t BufferedConsole::encode(std::string_view text, Target target, bool count_only) {
    // Marked only in the guest's view: in tandem's shell nothing of the guest's is shown.
    bool mark = !shell_;
    bool at_start = row_start_;
    std::size_t size = 0;
    auto out = [&](std::string_view bytes) {
        size += bytes.size();
        if (!count_only) emit(bytes, target);
    };
    while (!text.empty()) {
        if (at_start && mark) out(text.front() == '\n' ? kMarker : kMarkerAndSpace);
        std::size_t newline = text.find('\n');
        if (newline == std::string_view::npos) {
            out(text);
            at_start = false;
            break;
        }
        out(text.substr(0, newline));
        out("\r\n");
        at_start = true;
        text.remove_prefix(newline + 1);
    }
    if (!count_only) row_start_ = at_start;
    return size;
}

void BufferedConsole::emit(std::string_view bytes, Target target) {
    switch (target) {
        case Target::port: put_through(bytes); return;
        case Target::ring: (void)ring_.push(bytes); return;  // room checked by the caller
        case Target::held: (void)held_.push(bytes); return;
    }
}

void BufferedConsole::put_through(std::string_view bytes) {
    for (char c : bytes) port_.put_waiting(c);
}

void BufferedConsole::send_waiting(std::size_t bytes) {
    for (; bytes != 0 && ring_.committed() != 0; --bytes) {
        port_.put_waiting(ring_.front());
        ring_.pop();
    }
}

void BufferedConsole::make_room(std::size_t bytes) {
    if (ring_.free() < bytes) send_waiting(bytes - ring_.free());
}

void BufferedConsole::write(std::string_view text) {
    if (text.empty()) return;
    // tandem's message cuts into a line for the guest being written: the part already written stays.
    if (line_open_) close_guest_line();
    if (beside_shell_line()) {
        write_beside_shell_line(text);
        return;
    }
    // The guest is in the middle of a line: the message waits for its end (at most kHoldMs).
    bool hold = buffered_ && !shell_ && guest_row_open_ && held_kind_ != Held::guest_bytes;
    if (hold) {
        if (held_.free() >= encode(text, Target::held, true)) {
            encode(text, Target::held);
            held_.commit();
            held_kind_ = Held::messages;
            return;
        }
        release_held_messages();
    }
    write_now(text);
}

void BufferedConsole::write_now(std::string_view text) {
    end_guest_row();
    if (synchronous()) {
        encode(text, Target::port);
        return;
    }
    std::size_t need = encode(text, Target::ring, true);
    if (need > ring_.capacity()) {  // longer than the ring: after what waits, straight out
        send_waiting(ring_.committed());
        encode(text, Target::port);
        return;
    }
    make_room(need);
    encode(text, Target::ring);
    ring_.commit();
}

void BufferedConsole::write_beside_shell_line(std::string_view text) {
    cut_shell_row();
    write_now(text);
    if (row_start_) restore_shell_line();
}

void BufferedConsole::cut_shell_row() {
    if (shell_row_cut_) return;  // the row is already the message's
    if (!row_start_) write_now("\n");  // the prompt's row ends; the line is drawn again below
    shell_row_cut_ = true;
}

void BufferedConsole::restore_shell_line() {
    shell_row_cut_ = false;
    if (!shell_ || shell_line_ == nullptr) return;
    bool typing = shell_typing_;
    shell_typing_ = true;  // the redraw is the shell's own output
    if (!row_start_) write_now("\n");
    shell_line_->redraw();
    shell_typing_ = typing;
}

void BufferedConsole::shell_input(bool typing, ShellLine& line) {
    shell_line_ = &line;
    // A message left its row unfinished: what is typed now goes on a fresh row, after the prompt.
    if (typing && shell_row_cut_) restore_shell_line();
    shell_typing_ = typing;
}

void BufferedConsole::end_guest_row() {
    if (!guest_row_open_) return;
    guest_row_open_ = false;
    guest_at_start_ = true;
    if (synchronous()) {
        put_through("\r\n");
        return;
    }
    make_room(2);
    (void)ring_.push(std::string_view{"\r\n"});
    ring_.commit();
}

void BufferedConsole::release_held_messages() {
    if (held_kind_ != Held::messages) return;
    held_kind_ = Held::nothing;
    held_since_ms_ = kNoTime;
    end_guest_row();
    while (held_.committed() != 0) {
        if (synchronous()) {
            port_.put_waiting(held_.front());
        } else {
            make_room(1);
            (void)ring_.push(held_.front());
        }
        held_.pop();
    }
    ring_.commit();
}

void BufferedConsole::show_shell(bool shell) {
    if (shell == shell_) return;
    if (shell) {
        release_held_messages();
        end_guest_row();  // the shell starts on a row of its own
        shell_ = true;
        return;
    }
    shell_ = false;
    show_held_guest_bytes(false);
}

void BufferedConsole::set_buffered(bool on) {
    if (!on) release_held_messages();  // the guest has stopped: its line will not end now
    buffered_ = on;
}

void BufferedConsole::flush() {
    if (line_open_) close_guest_line();
    dropping_line_ = false;
    release_held_messages();
    if (shell_ && held_kind_ == Held::guest_bytes) {
        // tandem stops (halt, exception, panic) with its shell shown: the guest's output held
        // meanwhile is not kept from the line; the guest's view is shown for it, said as always.
        // The shell's line is not drawn again: nothing reads it now.
        shell_line_ = nullptr;
        println(*this, "\n{}", kGuestViewLine);
        show_shell(false);
    }
    show_held_guest_bytes(true);
    if (unreported()) report_drops();
    buffered_ = false;
    send_waiting(ring_.committed());
}

void BufferedConsole::drain(std::uint64_t now_ms) {
    if (ring_.committed() != 0) {
        for (std::size_t n = port_.ready(); n != 0 && ring_.committed() != 0; --n) {
            port_.put(ring_.front());
            ring_.pop();
        }
    }
    show_held_guest_bytes(false);
    if (held_kind_ == Held::messages && now_ms != kNoTime) {
        if (held_since_ms_ == kNoTime) {
            held_since_ms_ = now_ms;
        } else if (now_ms - held_since_ms_ >= kHoldMs) {
            release_held_messages();
        }
    }
    if (dropping_ && !line_open_ && ring_.size() <= low_water()) report_drops();
}

std::size_t BufferedConsole::low_water() const {
    std::size_t usable = ring_.capacity() > kReserve + kMarkerMax ? ring_.capacity() - kReserve - kMarkerMax : 0;
    return usable / 2;
}

void BufferedConsole::report_drops() {
    std::uint64_t bytes = dropped_bytes_ - reported_bytes_;
    std::uint64_t lines = dropped_lines_ - reported_lines_;
    reported_bytes_ = dropped_bytes_;
    reported_lines_ = dropped_lines_;
    dropping_ = false;
    if (bytes == 0) return;
    release_held_messages();
    end_guest_row();  // the guest's row lost its end: the report is not held behind it
    println(*this, "tandem: console: {} bytes ({} lines) of guest output dropped: the serial line is slower than the guest",
            bytes, lines);
}

}  // namespace tandem
