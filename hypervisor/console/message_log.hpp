// tandem's recent messages, for the shell's `log [N]` (issue 16): a writer in front of the
// console that passes everything on and keeps the newest lines in a ring over fixed storage. When
// the ring is full the oldest bytes go; a line cut that way is not shown. The shell's echo and
// its commands' answers go to the console directly, so the log holds what tandem reported, not
// what was typed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "hypervisor/console/writer.hpp"

namespace tandem {

class MessageLog final : public Writer {
public:
    constexpr MessageLog(Writer& target, std::span<char> storage) : target_(target), storage_(storage) {}

    void write(std::string_view text) override;
    void flush() override { target_.flush(); }
    bool has_room(std::size_t bytes) const override { return target_.has_room(bytes); }

    // The last `lines` complete lines, oldest first, each as it was written.
    void print_last(Writer& out, std::size_t lines) const;
    std::uint64_t lines_recorded() const { return lines_; }

private:
    char at(std::size_t i) const { return storage_[(head_ + i) % storage_.size()]; }
    void record(char c);

    Writer& target_;
    std::span<char> storage_;
    std::size_t head_ = 0, size_ = 0;
    bool lost_front_ = false;  // the oldest bytes were overwritten: the first line is cut
    std::uint64_t lines_ = 0;
};

}  // namespace tandem
