#include "hypervisor/console/line_editor.hpp"

namespace tandem {
namespace {
constexpr char kCtrlC = 0x03, kCtrlE = 0x05, kCtrlU = 0x15, kCtrlW = 0x17, kEsc = 0x1b;
}  // namespace

LineEditor::Outcome LineEditor::feed(char c) {
    bool after_cr = after_cr_;
    after_cr_ = c == '\r';
    if (c == '\n' && after_cr) return Outcome::editing;  // CR LF is one Enter
    if (ready_) clear_state();
    if (escape_ != Escape::none) return feed_escape(c);
    switch (c) {
        case '\r':
        case '\n': return finish_line();
        case '\b':
        case 0x7f: erase_before(1); return Outcome::editing;
        case kCtrlC:
            echo_.write("^C\n");
            clear_state();
            return Outcome::cancelled;
        case kCtrlU: {
            move_left(cursor_);
            std::size_t erased = length_;
            length_ = 0;
            redraw_from_cursor(erased);
            return Outcome::editing;
        }
        case kCtrlW: {
            std::size_t start = cursor_;
            while (start != 0 && line_[start - 1] == ' ') --start;
            while (start != 0 && line_[start - 1] != ' ') --start;
            erase_before(cursor_ - start);
            return Outcome::editing;
        }
        case kCtrlE: move_right(length_ - cursor_); return Outcome::editing;
        case kEsc: escape_ = Escape::started; return Outcome::editing;
        default:
            if (c >= 0x20 && c < 0x7f) insert(c);
            return Outcome::editing;  // other control characters are ignored
    }
}

// ESC [ <digits> <final> (CSI) and ESC O <final> (SS3, what terminals in "application cursor
// keys" mode send): ECMA-48 section 5.4; a final byte is 0x40-0x7e.
LineEditor::Outcome LineEditor::feed_escape(char c) {
    if (escape_ == Escape::started) {
        escape_ = c == '[' ? Escape::csi : c == 'O' ? Escape::ss3 : Escape::none;
        parameter_ = 0;
        return Outcome::editing;
    }
    if (escape_ == Escape::csi && c >= '0' && c <= '9') {
        if (parameter_ < 1000) parameter_ = parameter_ * 10 + static_cast<unsigned>(c - '0');
        return Outcome::editing;
    }
    if (escape_ == Escape::csi && c == ';') return Outcome::editing;  // modifiers: ignored
    escape_ = Escape::none;
    if (c >= 0x40 && c <= 0x7e) csi_final(c);
    return Outcome::editing;
}

void LineEditor::csi_final(char c) {
    switch (c) {
        case 'A': recall(+1); return;
        case 'B': recall(-1); return;
        case 'C': move_right(1); return;
        case 'D': move_left(1); return;
        case 'H': move_left(cursor_); return;
        case 'F': move_right(length_ - cursor_); return;
        case '~':
            if (parameter_ == 3) erase_at_cursor();            // Delete
            if (parameter_ == 1 || parameter_ == 7) move_left(cursor_);  // Home (VT220, rxvt)
            if (parameter_ == 4 || parameter_ == 8) move_right(length_ - cursor_);  // End
            return;
        default: return;  // keys the shell has no use for
    }
}

LineEditor::Outcome LineEditor::finish_line() {
    echo_.write("\n");
    if (!overflow_ && length_ != 0) remember(line());
    ready_ = true;
    return Outcome::line_ready;
}

void LineEditor::insert(char c) {
    if (length_ == kMaxLine) {
        overflow_ = true;  // refused at Enter; nothing more is shown
        return;
    }
    for (std::size_t i = length_; i > cursor_; --i) line_[i] = line_[i - 1];
    line_[cursor_] = c;
    ++length_;
    echo_.write({&line_[cursor_], 1});
    ++cursor_;
    redraw_from_cursor(0);
}

void LineEditor::erase_before(std::size_t count) {
    if (count > cursor_) count = cursor_;
    if (count == 0) return;
    move_left(count);
    for (std::size_t i = cursor_; i + count < length_; ++i) line_[i] = line_[i + count];
    length_ -= count;
    redraw_from_cursor(count);
}

void LineEditor::erase_at_cursor() {
    if (cursor_ == length_) return;
    for (std::size_t i = cursor_; i + 1 < length_; ++i) line_[i] = line_[i + 1];
    --length_;
    redraw_from_cursor(1);
}

void LineEditor::redraw() {
    if (ready_) clear_state();
    echo_.write({line_, length_});
    for (std::size_t i = cursor_; i < length_; ++i) echo_.write("\b");
}

void LineEditor::move_left(std::size_t count) {
    for (; count != 0 && cursor_ != 0; --count) {
        echo_.write("\b");
        --cursor_;
    }
}

void LineEditor::move_right(std::size_t count) {
    for (; count != 0 && cursor_ != length_; --count) {
        echo_.write({&line_[cursor_], 1});
        ++cursor_;
    }
}

// The text from the cursor to the end again, `erased` spaces over what the line lost, and the
// cursor back where it was.
void LineEditor::redraw_from_cursor(std::size_t erased) {
    std::size_t tail = length_ - cursor_;
    if (tail == 0 && erased == 0) return;
    echo_.write({&line_[cursor_], tail});
    for (std::size_t i = 0; i < erased; ++i) echo_.write(" ");
    for (std::size_t i = 0; i < tail + erased; ++i) echo_.write("\b");
}

void LineEditor::replace_line(std::string_view text) {
    move_left(cursor_);
    std::size_t old_length = length_;
    length_ = text.size() < kMaxLine ? text.size() : kMaxLine;
    for (std::size_t i = 0; i < length_; ++i) line_[i] = text[i];
    overflow_ = false;
    redraw_from_cursor(old_length > length_ ? old_length - length_ : 0);
    move_right(length_);
}

void LineEditor::remember(std::string_view text) {
    if (history_count_ != 0) {
        std::size_t last = history_count_ - 1;
        if (std::string_view{history_[last], history_length_[last]} == text) return;  // no repeats
    }
    if (history_count_ == kHistory) {  // the oldest goes
        for (std::size_t i = 1; i < kHistory; ++i) {
            for (std::size_t j = 0; j < history_length_[i]; ++j) history_[i - 1][j] = history_[i][j];
            history_length_[i - 1] = history_length_[i];
        }
        --history_count_;
    }
    for (std::size_t j = 0; j < text.size(); ++j) history_[history_count_][j] = text[j];
    history_length_[history_count_] = text.size();
    ++history_count_;
}

// direction +1: one line further back (Up); -1: one nearer (Down), past the newest an empty line.
void LineEditor::recall(int direction) {
    if (direction > 0 && history_browse_ == history_count_) return;
    if (direction < 0 && history_browse_ == 0) return;
    history_browse_ = direction > 0 ? history_browse_ + 1 : history_browse_ - 1;
    if (history_browse_ == 0) {
        replace_line({});
        return;
    }
    std::size_t at = history_count_ - history_browse_;
    replace_line({history_[at], history_length_[at]});
}

void LineEditor::clear_state() {
    length_ = cursor_ = 0;
    overflow_ = false;
    ready_ = false;
    escape_ = Escape::none;
    history_browse_ = 0;
}

}  // namespace tandem
