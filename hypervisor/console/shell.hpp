// The serial console's command shell (DESIGN §8): characters typed on COM1 (in the shell's view,
// console_mux.hpp) are edited into a line (line_editor.hpp: cursor keys, history); on Enter the
// first word names a command. Commands are registered by
// the parts of tandem that own them (the VM, the checkpoint session), so the shell itself knows
// none of them. Unknown commands and over-long lines get a clear answer, never silence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "hypervisor/console/console_view.hpp"
#include "hypervisor/console/line_editor.hpp"
#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem {

class Shell final : public ShellLine {
public:
    using Handler = void (*)(void* context, std::string_view arguments, Writer& out);
    struct Command {
        const char* name;
        const char* help;
        Handler handler;
        void* context;
        // What may follow the name, for help (e.g. "<ms>"); nullptr: nothing, and the shell
        // refuses a line that has more than the name.
        const char* arguments = nullptr;
    };
    static constexpr std::size_t kMaxCommands = 16;
    static constexpr std::size_t kMaxLine = LineEditor::kMaxLine;

    explicit Shell(Writer& out) : out_(out), editor_(out) {}

    Status add(const Command& command);
    // One input character: edits the line; CR or LF runs it, Ctrl-C abandons it.
    void feed(char c);
    // A command's argument as a whole decimal number from lo to hi; nothing otherwise (the
    // command says what it expected).
    static std::optional<std::uint64_t> number_argument(std::string_view text, std::uint64_t lo, std::uint64_t hi);
    // A status-like command's one option: none (the lines for people) or --json (one line of
    // JSON, docs/console-schema.json). Anything else is refused here, with the usage, and gives
    // nothing.
    enum class Form : std::uint8_t { text, json };
    static std::optional<Form> form_argument(std::string_view command, std::string_view arguments, Writer& out);
    void prompt() { out_.write("tandem> "); }
    // The prompt and the line being edited, on a fresh row (after other output).
    void redraw() override {
        prompt();
        editor_.redraw();
    }

private:
    void run_line(std::string_view line);

    Writer& out_;
    LineEditor editor_;
    Command commands_[kMaxCommands]{};
    std::size_t count_ = 0;
};

}  // namespace tandem
