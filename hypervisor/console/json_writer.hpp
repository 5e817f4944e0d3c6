// One JSON text on one line (RFC 8259), written straight to a Writer as it is built: the shell's
// `--json` answers (docs/console-schema.json). No allocation and no buffer: keys and values go
// out in order, the writer only remembers, per nesting level, whether a comma is due.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hypervisor/console/writer.hpp"

namespace tandem {

// docs/console-schema.json's "schema": it changes only when a field is removed or changes meaning
// (tools/tandemctl refuses a firmware of another schema).
inline constexpr std::uint64_t kConsoleSchema = 1;

class JsonWriter {
public:
    static constexpr std::size_t kMaxDepth = 16;

    explicit JsonWriter(Writer& out) : out_(out) {}

    // Containers: at the top, as an array element, or after key().
    void begin_object();
    void end_object();
    void begin_array();
    void end_array();
    void key(std::string_view name);

    void value(std::uint64_t number);
    void value(bool flag);
    void value(std::string_view text);
    void value(const char* text) { value(std::string_view(text)); }
    void null();

    // A member: key and value at once.
    template <class T>
    void field(std::string_view name, const T& v) {
        key(name);
        value(v);
    }
    void null_field(std::string_view name) {
        key(name);
        null();
    }
    // A number, or null when `known` is false (a count that does not apply on this machine).
    void maybe_field(std::string_view name, bool known, std::uint64_t number) {
        key(name);
        if (known) {
            value(number);
        } else {
            null();
        }
    }
    void object_field(std::string_view name) {
        key(name);
        begin_object();
    }
    // Ends the text with its newline (the one-line answer), once the outer object is closed.
    void end_line() { out_.write("\n"); }
    // Whether every container opened was closed, and nothing went deeper than kMaxDepth.
    bool complete() const { return depth_ == 0 && !overflow_; }

private:
    void before_value();
    void open(char bracket);
    void close(char bracket);
    void write_escaped(std::string_view text);

    Writer& out_;
    std::size_t depth_ = 0;
    bool overflow_ = false;
    bool after_key_ = false;
    bool has_member_[kMaxDepth + 1] = {};
};

}  // namespace tandem
