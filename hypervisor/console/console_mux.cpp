#include "hypervisor/console/console_mux.hpp"

namespace tandem {
namespace {

// What the multiplexer and the shell write while handling a typed character is the shell's own.
class ShellInput {
public:
    ShellInput(ConsoleView* view, ShellLine& line) : view_(view), line_(line) {
        if (view_ != nullptr) view_->shell_input(true, line_);
    }
    ~ShellInput() {
        if (view_ != nullptr) view_->shell_input(false, line_);
    }
    ShellInput(const ShellInput&) = delete;
    ShellInput& operator=(const ShellInput&) = delete;

private:
    ConsoleView* view_;
    ShellLine& line_;
};

}  // namespace

void ConsoleMux::announce_ready(Writer& out) {
    println(out, "tandem: console ready: the guest's console; Ctrl-A c switches to tandem's shell "
                 "(type 'help' there) and back, Ctrl-A h lists the console keys");
}

void ConsoleMux::attach_guest(ConsoleInputSink* sink) {
    guest_ = sink;
    no_guest_said_ = false;
}

void ConsoleMux::feed(char c) {
    ShellInput typing{view_out_, shell_};
    if (escaped_) {
        escaped_ = false;
        escape_command(c);
        return;
    }
    if (c == kEscape) {
        escaped_ = true;
        return;
    }
    if (view_ == View::shell) {
        shell_.feed(c);
    } else {
        type_for_guest(c);
    }
}

void ConsoleMux::escape_command(char c) {
    switch (c) {
        case 'c':
        case 'C': switch_view(); return;
        case 'h':
        case 'H':
        case '?':
            say_between_lines();
            println(out_, "console: Ctrl-A c switches between the guest's console and tandem's shell; "
                          "Ctrl-A Ctrl-A types a Ctrl-A for the guest; Ctrl-A h this list");
            restore_shell_line();
            return;
        case kEscape:
            if (view_ == View::guest) type_for_guest(c);
            return;
        default: {
            auto code = static_cast<unsigned char>(c);
            say_between_lines();
            if (code >= 0x20 && code < 0x7f) {
                println(out_, "console: Ctrl-A {} is not a console key (Ctrl-A h lists them)", c);
            } else {
                println(out_, "console: Ctrl-A then byte {} is not a console key (Ctrl-A h lists them)", hex(code, 2));
            }
            restore_shell_line();
        }
    }
}

void ConsoleMux::switch_view() {
    no_guest_said_ = false;
    // Each switch line is written in the view being left: marked in the guest's (the output side
    // ends an unfinished guest row first), after the prompt's row in the shell's.
    if (view_ == View::guest) {
        view_ = View::shell;
        println(out_, "{}", kShellViewLine);
        if (view_out_ != nullptr) view_out_->show_shell(true);
        shell_.redraw();  // with what was typed before switching away, if anything
    } else {
        view_ = View::guest;
        println(out_, "\n{}", kGuestViewLine);
        if (view_out_ != nullptr) view_out_->show_shell(false);  // the guest's output held meanwhile follows
    }
}

// In the shell's view a message interrupts the line being typed: it goes on a row of its own and
// the prompt and line are shown again after it.
void ConsoleMux::say_between_lines() {
    if (view_ == View::shell) out_.write("\n");
}

void ConsoleMux::restore_shell_line() {
    if (view_ == View::shell) shell_.redraw();
}

void ConsoleMux::type_for_guest(char c) {
    if (guest_ == nullptr) {
        ++dropped_;
        if (!no_guest_said_) println(out_, "console: typed input dropped: no guest runs on this machine (Ctrl-A c: tandem's shell)");
        no_guest_said_ = true;
        return;
    }
    if (count_ == kTypeAhead) {
        ++dropped_;
        // Said at the first, counted until the guest has read what waits (deliver()).
        if (overflow_unreported_++ == 0) println(out_, "console: typed input dropped: the guest is not reading its console");
        return;
    }
    typed_[(head_ + count_) % kTypeAhead] = c;
    ++count_;
}

void ConsoleMux::deliver() {
    if (guest_ != nullptr) {
        while (count_ != 0 && guest_->input_room() != 0) {
            guest_->accept_input(static_cast<std::uint8_t>(typed_[head_]));
            head_ = (head_ + 1) % kTypeAhead;
            --count_;
        }
    }
    if (count_ == 0 && overflow_unreported_ != 0) {
        println(out_, "console: {} typed characters were dropped while the guest was not reading", overflow_unreported_);
        overflow_unreported_ = 0;
    }
}

}  // namespace tandem
