// The serial console's command shell (DESIGN §8): characters typed on COM1 are echoed and
// collected into a line; on Enter the first word names a command. Commands are registered by
// the parts of tandem that own them (the VM, the checkpoint session), so the shell itself knows
// none of them. Unknown commands and over-long lines get a clear answer, never silence.
#pragma once

#include <cstddef>
#include <string_view>

#include "hypervisor/console/writer.hpp"
#include "hypervisor/util/result.hpp"

namespace tandem {

class Shell {
public:
    using Handler = void (*)(void* context, std::string_view arguments, Writer& out);
    struct Command {
        const char* name;
        const char* help;
        Handler handler;
        void* context;
    };
    static constexpr std::size_t kMaxCommands = 16;
    static constexpr std::size_t kMaxLine = 120;

    explicit Shell(Writer& out) : out_(out) {}

    Status add(const Command& command);
    // One input character: printable ones are echoed and collected, backspace/DEL erases,
    // CR or LF runs the line.
    void feed(char c);
    void prompt() { out_.write("tandem> "); }

private:
    void run_line();

    Writer& out_;
    Command commands_[kMaxCommands]{};
    std::size_t count_ = 0;
    char line_[kMaxLine]{};
    std::size_t length_ = 0;
    bool overflow_ = false;
};

}  // namespace tandem
