#include "hypervisor/console/message_log.hpp"

namespace tandem {

void MessageLog::write(std::string_view text) {
    target_.write(text);
    if (storage_.empty()) return;
    for (char c : text) record(c);
}

void MessageLog::record(char c) {
    if (size_ == storage_.size()) {
        head_ = (head_ + 1) % storage_.size();
        --size_;
        lost_front_ = true;
    }
    storage_[(head_ + size_) % storage_.size()] = c;
    ++size_;
    if (c == '\n') ++lines_;
}

void MessageLog::print_last(Writer& out, std::size_t lines) const {
    // The end of the last complete line, then back over `lines` of them.
    std::size_t end = size_;
    while (end != 0 && at(end - 1) != '\n') --end;
    if (end == 0 || lines == 0) return;
    std::size_t start = end - 1;  // at the last line's newline
    std::size_t found = 0;
    while (start != 0) {
        if (at(start - 1) == '\n' && ++found == lines) break;
        --start;
    }
    if (start == 0 && lost_front_) {  // skip the line whose beginning was overwritten
        while (start < end && at(start) != '\n') ++start;
        ++start;
    }
    char chunk[64];
    std::size_t used = 0;
    for (std::size_t i = start; i < end; ++i) {
        chunk[used++] = at(i);
        if (used == sizeof chunk) {
            out.write({chunk, used});
            used = 0;
        }
    }
    if (used != 0) out.write({chunk, used});
}

}  // namespace tandem
