#include "hypervisor/console/shell.hpp"

#include "hypervisor/util/decimal.hpp"

namespace tandem {

Status Shell::add(const Command& command) {
    if (count_ == kMaxCommands) return Error::of("shell: too many commands", kMaxCommands);
    commands_[count_++] = command;
    return success();
}

std::optional<std::uint64_t> Shell::number_argument(std::string_view text, std::uint64_t lo, std::uint64_t hi) {
    std::uint64_t value = 0;
    if (!parse_decimal(text, value) || value < lo || value > hi) return std::nullopt;
    return value;
}

std::optional<Shell::Form> Shell::form_argument(std::string_view command, std::string_view arguments, Writer& out) {
    if (arguments.empty()) return Form::text;
    if (arguments == "--json") return Form::json;
    println(out, "{}: the only option is --json, for one line of JSON (not '{}')", command, arguments);
    return std::nullopt;
}

void Shell::feed(char c) {
    switch (editor_.feed(c)) {
        case LineEditor::Outcome::line_ready:
            if (editor_.overflowed()) {
                println(out_, "shell: line longer than {} characters: ignored", kMaxLine);
            } else {
                run_line(editor_.line());
            }
            prompt();
            return;
        case LineEditor::Outcome::cancelled: prompt(); return;
        case LineEditor::Outcome::editing: return;
    }
}

void Shell::run_line(std::string_view line) {
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    if (line.empty()) return;
    std::size_t space = line.find(' ');
    std::string_view name = line.substr(0, space);
    std::string_view args = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
    while (!args.empty() && args.front() == ' ') args.remove_prefix(1);
    if (name == "help") {
        for (std::size_t i = 0; i < count_; ++i) {
            const Command& c = commands_[i];
            println(out_, "  {}{}{} - {}", c.name, c.arguments != nullptr ? " " : "", c.arguments != nullptr ? c.arguments : "",
                    c.help);
        }
        println(out_, "  help - this list");
        return;
    }
    for (std::size_t i = 0; i < count_; ++i) {
        if (name == commands_[i].name) {
            if (commands_[i].arguments == nullptr && !args.empty()) {
                println(out_, "shell: '{}' takes no arguments (not '{}')", name, args);
                return;
            }
            commands_[i].handler(commands_[i].context, args, out_);
            return;
        }
    }
    print(out_, "shell: unknown command '{}'; commands:", name);
    for (std::size_t i = 0; i < count_; ++i) print(out_, " {}", commands_[i].name);
    println(out_, " help");
}

}  // namespace tandem
