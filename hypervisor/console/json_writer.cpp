#include "hypervisor/console/json_writer.hpp"

namespace tandem {

// A value (or a key) after another member of the same container needs a comma first; a value
// right after its key does not.
void JsonWriter::before_value() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (depth_ <= kMaxDepth && has_member_[depth_]) out_.write(",");
    if (depth_ <= kMaxDepth) has_member_[depth_] = true;
}

void JsonWriter::open(char bracket) {
    before_value();
    out_.write(std::string_view(&bracket, 1));
    ++depth_;
    if (depth_ > kMaxDepth) {
        overflow_ = true;
        return;
    }
    has_member_[depth_] = false;
}

void JsonWriter::close(char bracket) {
    out_.write(std::string_view(&bracket, 1));
    if (depth_ == 0) {
        overflow_ = true;  // more closed than opened: a bug in the caller, reported by complete()
        return;
    }
    --depth_;
}

void JsonWriter::begin_object() { open('{'); }
void JsonWriter::end_object() { close('}'); }
void JsonWriter::begin_array() { open('['); }
void JsonWriter::end_array() { close(']'); }

void JsonWriter::key(std::string_view name) {
    before_value();
    write_escaped(name);
    out_.write(":");
    after_key_ = true;
}

void JsonWriter::value(std::uint64_t number) {
    before_value();
    format_detail::put_unsigned(out_, number);
}

void JsonWriter::value(bool flag) {
    before_value();
    out_.write(flag ? "true" : "false");
}

void JsonWriter::value(std::string_view text) {
    before_value();
    write_escaped(text);
}

void JsonWriter::null() {
    before_value();
    out_.write("null");
}

// RFC 8259 §7: the quotation mark, the reverse solidus and the control characters are escaped;
// everything else passes as it is (tandem's strings are ASCII).
void JsonWriter::write_escaped(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    out_.write("\"");
    std::size_t run = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
        out_.write(text.substr(run, i - run));
        run = i + 1;
        if (c == '"' || c == '\\') {
            const char escaped[2] = {'\\', static_cast<char>(c)};
            out_.write(std::string_view(escaped, 2));
        } else {
            const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
            out_.write(std::string_view(escaped, 6));
        }
    }
    out_.write(text.substr(run));
    out_.write("\"");
}

}  // namespace tandem
