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

class ConsoleView {
public:
    // true: tandem's shell is shown from now on; false: the guest's console again.
    virtual void show_shell(bool shell) = 0;

protected:
    ~ConsoleView() = default;
};

}  // namespace tandem
