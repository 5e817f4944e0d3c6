#include "hypervisor/console/shell.hpp"

namespace tandem {

Status Shell::add(const Command& command) {
    if (count_ == kMaxCommands) return Error::of("shell: too many commands", kMaxCommands);
    commands_[count_++] = command;
    return success();
}

void Shell::feed(char c) {
    if (c == '\r' || c == '\n') {
        out_.write("\n");
        run_line();
        length_ = 0;
        overflow_ = false;
        prompt();
        return;
    }
    if (c == '\b' || c == 0x7f) {
        if (length_ != 0) {
            --length_;
            out_.write("\b \b");
        }
        return;
    }
    if (c < 0x20 || c > 0x7e) return;  // other control characters are ignored
    if (length_ == kMaxLine) {
        overflow_ = true;
        return;
    }
    line_[length_++] = c;
    out_.write({&c, 1});
}

void Shell::run_line() {
    std::string_view line{line_, length_};
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    if (line.empty()) return;
    if (overflow_) {
        println(out_, "shell: line longer than {} characters: ignored", kMaxLine);
        return;
    }
    std::size_t space = line.find(' ');
    std::string_view name = line.substr(0, space);
    std::string_view args = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    if (name == "help") {
        for (std::size_t i = 0; i < count_; ++i) println(out_, "  {} - {}", commands_[i].name, commands_[i].help);
        println(out_, "  help - this list");
        return;
    }
    for (std::size_t i = 0; i < count_; ++i) {
        if (name == commands_[i].name) {
            commands_[i].handler(commands_[i].context, args, out_);
            return;
        }
    }
    print(out_, "shell: unknown command '{}'; commands:", name);
    for (std::size_t i = 0; i < count_; ++i) print(out_, " {}", commands_[i].name);
    println(out_, " help");
}

}  // namespace tandem
