// Which of the serial line's two consoles is shown (console_mux.hpp): the console's output side
// needs to know, because the guest's output is shown only in the guest's view and tandem's lines
// are marked only there (buffered_console.hpp).
#pragma once

#include <string_view>

namespace tandem {

// The lines that say which console is shown from now on (the test harness and tandemctl look for
// them whole).
inline constexpr std::string_view kShellViewLine = "console: tandem's shell (Ctrl-A c: back to the guest's console)";
inline constexpr std::string_view kGuestViewLine = "console: the guest's console (Ctrl-A c: tandem's shell)";

// The shell's prompt and the line being typed (shell.hpp), drawn again on a fresh row.
class ShellLine {
public:
    virtual void redraw() = 0;

protected:
    ~ShellLine() = default;
};

class ConsoleView {
public:
    // true: tandem's shell is shown from now on; false: the guest's console again.
    virtual void show_shell(bool shell) = 0;
    // Between true and false, what tandem writes is the shell's own (echo, prompt, answers). A
    // message written otherwise (a session's, a checkpoint's) while the prompt's row is open in
    // the shell's view goes on a row of its own, and `line` is drawn again after it, so neither
    // the message nor the line being typed is cut (issue 16: a person typing sees both whole).
    virtual void shell_input(bool typing, ShellLine& line) = 0;

protected:
    ~ConsoleView() = default;
};

}  // namespace tandem
