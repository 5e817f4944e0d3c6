// The guest's side of the buffered console (buffered_console.hpp): its UART's bytes as written,
// and whole lines written on its behalf. Neither ever waits for the serial line.
#include "hypervisor/console/buffered_console.hpp"

namespace tandem {

void BufferedConsole::guest_byte(char c) {
    // tandem's shell is shown, or what the guest wrote meanwhile is still being shown: the byte
    // waits for its view, after those.
    if (shell_ || held_kind_ == Held::guest_bytes) return hold_guest_byte(c);
    show_guest_byte(c);
}

void BufferedConsole::hold_guest_byte(char c) {
    if (held_kind_ != Held::messages && held_.push(c)) {
        held_.commit();
        held_kind_ = Held::guest_bytes;
    } else if (shell_) {
        ++shell_dropped_bytes_;
        ++shell_dropped_total_;
    } else {  // written regardless of THRE while the held ring is full
        dropping_ = true;
        drop_guest_byte(c);
    }
}

// What the guest wrote while tandem's shell was shown, into the ring as it has room (at the
// guest's view's return and at every drain after), oldest first: none of it is dropped.
// `wait`: all of it, waiting for the UART (flush).
void BufferedConsole::show_held_guest_bytes(bool wait) {
    if (held_kind_ != Held::guest_bytes || shell_) return;
    while (held_.committed() != 0) {
        if (wait) {
            make_room(2);
        } else if (ring_.free() < 2 + kReserve) {
            return;  // the rest at a later drain
        }
        if (line_open_) close_guest_line();
        char c = held_.front();
        held_.pop();
        send_guest_byte(c, wait);
    }
    held_kind_ = Held::nothing;
    if (shell_dropped_bytes_ != 0) {
        println(*this, "console: {} bytes of the guest's output were dropped while tandem's shell was shown",
                shell_dropped_bytes_);
        shell_dropped_bytes_ = 0;
    }
}

void BufferedConsole::show_guest_byte(char c) {
    if (line_open_) close_guest_line();
    if (dropping_) {
        // One report per burst of losses, once the ring has drained to its low-water mark.
        if (ring_.size() > low_water()) return drop_guest_byte(c);
        report_drops();
    }
    std::size_t need = guest_at_start_ && c == '|' ? 2 : 1;
    if (!synchronous() && ring_.free() < need + kDropBelow) {
        dropping_ = true;
        return drop_guest_byte(c);
    }
    send_guest_byte(c);
    if (c == '\n') release_held_messages();  // the line has ended: tandem's messages follow it
}

void BufferedConsole::send_guest_byte(char c, bool may_wait) {
    // A row the guest starts with '|' gets a space first: only tandem's rows start with its marker.
    char escaped[2] = {' ', c};
    std::string_view bytes = guest_at_start_ && c == '|' ? std::string_view{escaped, 2} : std::string_view{&c, 1};
    if (may_wait && synchronous()) {
        put_through(bytes);
    } else {
        (void)ring_.push(bytes);
        ring_.commit();
    }
    guest_at_start_ = c == '\n' || c == '\r';
    guest_row_open_ = c != '\n';
}

void BufferedConsole::drop_guest_byte(char c) {
    ++dropped_bytes_;
    if (c == '\n') ++dropped_lines_;
}

bool BufferedConsole::guest_bytes_have_room(std::size_t bytes) const {
    // In tandem's shell the guest's bytes are held or dropped, never waited for: a person reading
    // the shell must not slow the guest down. After it they wait behind those held meanwhile.
    if (shell_) return true;
    if (held_kind_ == Held::guest_bytes) return held_.free() >= bytes;
    if (synchronous()) return true;
    if (dropping_) return false;
    return ring_.free() >= bytes + 1 + kReserve;  // one for a '|' escaped
}

void BufferedConsole::write_guest_line(std::string_view text) {
    // In tandem's shell, like a message: a row of its own, and the prompt and line again after it.
    bool beside_shell = beside_shell_line();
    if (beside_shell) cut_shell_row();
    write_guest_line_pieces(text);
    if (beside_shell && row_start_ && !line_open_) restore_shell_line();
}

void BufferedConsole::write_guest_line_pieces(std::string_view text) {
    if (synchronous()) {
        end_guest_row();
        encode(text, Target::port);
        return;
    }
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        std::string_view piece = text.substr(0, end == std::string_view::npos ? text.size() : end + 1);
        text.remove_prefix(piece.size());
        bool ends_line = piece.back() == '\n';
        if (!dropping_line_ && !line_open_) start_guest_line();
        if (!dropping_line_ && ring_.free() < encode(piece, Target::ring, true) + kReserve) abandon_guest_line();
        if (dropping_line_) {
            dropped_bytes_ += piece.size();
            if (ends_line) {
                ++dropped_lines_;
                dropping_line_ = false;
            }
            continue;
        }
        encode(piece, Target::ring);
        open_bytes_ += piece.size();
        if (ends_line) close_guest_line();
    }
}

void BufferedConsole::start_guest_line() {
    // After a loss the guest's output is dropped until the ring has drained to its low-water
    // mark; then the report goes first. One report per burst of losses, not one per line.
    if (dropping_) {
        if (ring_.size() > low_water()) {
            dropping_line_ = true;
            return;
        }
        report_drops();
    }
    release_held_messages();
    end_guest_row();
    line_open_ = true;
    open_bytes_ = 0;
}

void BufferedConsole::abandon_guest_line() {
    ring_.rollback();
    dropped_bytes_ += open_bytes_;
    open_bytes_ = 0;
    line_open_ = false;
    dropping_line_ = true;
    dropping_ = true;
    row_start_ = true;  // the line was started at a row's start, and is gone
}

void BufferedConsole::close_guest_line() {
    ring_.commit();
    line_open_ = false;
    open_bytes_ = 0;
}

}  // namespace tandem
