#include "hypervisor/console/buffered_console.hpp"

namespace tandem {
namespace {

// Bytes on the wire: every "\n" leaves as "\r\n".
std::size_t wire_size(std::string_view text) {
    std::size_t n = text.size();
    for (char c : text) n += c == '\n' ? 1 : 0;
    return n;
}

}  // namespace

void BufferedConsole::append(std::string_view text) {
    // In runs between newlines: a 4 KiB hypercall line is a few copies, not 4096 pushes.
    while (!text.empty()) {
        std::size_t newline = text.find('\n');
        if (newline == std::string_view::npos) {
            (void)ring_.push(text);
            return;
        }
        (void)ring_.push(text.substr(0, newline));
        (void)ring_.push(std::string_view{"\r\n"});
        text.remove_prefix(newline + 1);
    }
}

void BufferedConsole::put_through(std::string_view text) {
    for (char c : text) {
        if (c == '\n') port_.put_waiting('\r');
        port_.put_waiting(c);
    }
}

void BufferedConsole::send_waiting(std::size_t bytes) {
    for (; bytes != 0 && ring_.committed() != 0; --bytes) {
        port_.put_waiting(ring_.front());
        ring_.pop();
    }
}

void BufferedConsole::write(std::string_view text) {
    if (synchronous()) return put_through(text);
    // tandem's message cuts into a guest line being written: the part already written stays.
    if (line_open_) close_guest_line();
    std::size_t need = wire_size(text);
    if (need > ring_.capacity()) {  // longer than the ring: after what waits, straight out
        send_waiting(ring_.committed());
        return put_through(text);
    }
    if (ring_.free() < need) send_waiting(need - ring_.free());
    append(text);
    ring_.commit();
}

void BufferedConsole::flush() {
    if (line_open_) close_guest_line();
    dropping_ = false;
    if (unreported()) (void)report_drops(true);
    buffered_ = false;
    send_waiting(ring_.committed());
}

void BufferedConsole::drain() {
    if (ring_.committed() != 0) {
        for (std::size_t n = port_.ready(); n != 0 && ring_.committed() != 0; --n) {
            port_.put(ring_.front());
            ring_.pop();
        }
    }
    if (unreported() && !line_open_ && !dropping_) (void)report_drops(false);
}

std::size_t BufferedConsole::low_water() const {
    std::size_t usable = ring_.capacity() > kReserve + kMarkerMax ? ring_.capacity() - kReserve - kMarkerMax : 0;
    return usable / 2;
}

bool BufferedConsole::report_drops(bool force) {
    if (!force && ring_.size() > low_water()) return false;
    std::uint64_t bytes = dropped_bytes_ - reported_bytes_;
    std::uint64_t lines = dropped_lines_ - reported_lines_;
    reported_bytes_ = dropped_bytes_;
    reported_lines_ = dropped_lines_;
    println(*this, "tandem: console: {} bytes ({} lines) of guest output dropped: the serial line is slower than the guest",
            bytes, lines);
    return true;
}

void BufferedConsole::write_guest(std::string_view text) {
    if (synchronous()) return put_through(text);
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        std::string_view piece = text.substr(0, end == std::string_view::npos ? text.size() : end + 1);
        text.remove_prefix(piece.size());
        bool ends_line = piece.back() == '\n';
        if (!dropping_ && !line_open_) start_guest_line();
        if (!dropping_ && ring_.free() < wire_size(piece) + kReserve) abandon_guest_line();
        if (dropping_) {
            dropped_bytes_ += piece.size();
            if (ends_line) {
                ++dropped_lines_;
                dropping_ = false;
            }
            continue;
        }
        append(piece);
        open_bytes_ += piece.size();
        if (ends_line) close_guest_line();
    }
}

bool BufferedConsole::guest_has_room(std::size_t bytes) const {
    if (synchronous()) return true;
    if (dropping_ || (unreported() && ring_.size() > low_water())) return false;
    // The line's "\n" leaves as "\r\n"; the marker for earlier losses goes first.
    std::size_t need = bytes + 1 + kReserve + (unreported() ? kMarkerMax : 0);
    return ring_.free() >= need;
}

void BufferedConsole::start_guest_line() {
    // After a loss guest lines are dropped until the ring has drained to its low-water mark;
    // then the marker goes first. One marker per burst of losses, not one per line.
    if (unreported() && !report_drops(false)) {
        dropping_ = true;
        return;
    }
    line_open_ = true;
    open_bytes_ = 0;
}

void BufferedConsole::abandon_guest_line() {
    ring_.rollback();
    dropped_bytes_ += open_bytes_;
    open_bytes_ = 0;
    line_open_ = false;
    dropping_ = true;
}

void BufferedConsole::close_guest_line() {
    ring_.commit();
    line_open_ = false;
    open_bytes_ = 0;
}

}  // namespace tandem
