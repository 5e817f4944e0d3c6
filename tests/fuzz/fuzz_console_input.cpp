// libFuzzer: bytes typed on tandem's serial line (hypervisor/console/console_mux.hpp, shell.hpp,
// line_editor.hpp), against an independent reading of the escape protocol. The serial line is
// the operator's, but a console server or a noisy cable can put anything on it.
//
// The input's first byte sets how much room the guest's UART offers at each delivery (0: none,
// which exercises the type-ahead and its drops); the rest is typed, with a delivery every 8 bytes.
// Checked, beyond ASan/UBSan:
//   - the guest receives exactly what the oracle says: the bytes typed in the guest's view, with
//     Ctrl-A c switching views, Ctrl-A Ctrl-A giving one Ctrl-A, any other Ctrl-A pair nothing;
//     in order, none twice, a prefix of them when its UART is short of room;
//   - typed input waiting never exceeds the type-ahead, and waiting + received + dropped adds up
//     to what was typed for the guest;
//   - the shell's echo stays on its line: never a backspace at column 0, never a control
//     character other than newline and backspace (tandem's own messages are not part of it);
//   - a command runs only with a line of at most kMaxLine printable characters.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "hypervisor/console/console_mux.hpp"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

// The shell's writer: its echo and tandem's messages, judged as a terminal would see them.
class Terminal final : public tandem::Writer {
public:
    void write(std::string_view text) override {
        for (char c : text) {
            if (c == '\n') {
                column = 0;
            } else if (c == '\b') {
                check(column != 0);
                --column;
            } else {
                check(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f);
                ++column;
            }
        }
    }
    std::size_t column = 0;
};

class GuestPort final : public tandem::ConsoleInputSink {
public:
    std::size_t input_room() const override { return room; }
    void accept_input(std::uint8_t byte) override {
        check(room != 0);
        --room;
        received += static_cast<char>(byte);
    }
    std::size_t room = 0;
    std::string received;
};

void command(void*, std::string_view arguments, tandem::Writer&) {
    check(arguments.size() <= tandem::Shell::kMaxLine);
    for (char c : arguments) check(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t room_per_delivery = data[0] % 24;
    Terminal terminal;
    tandem::Shell shell{terminal};
    check(shell.add({"run", "", command, nullptr, "<anything>"}).ok());
    check(shell.add({"bare", "", command, nullptr}).ok());
    tandem::ConsoleMux mux{shell, terminal};
    GuestPort guest;
    mux.attach_guest(&guest);

    std::string expected;  // the oracle: what the guest's view was given
    bool guest_view = true, escaped = false;
    for (std::size_t i = 1; i < size; ++i) {
        const char c = static_cast<char>(data[i]);
        if (escaped) {
            escaped = false;
            if (c == 'c' || c == 'C') guest_view = !guest_view;
            if (c == tandem::ConsoleMux::kEscape && guest_view) expected += c;
        } else if (c == tandem::ConsoleMux::kEscape) {
            escaped = true;
        } else if (guest_view) {
            expected += c;
        }
        mux.feed(c);
        check((mux.view() == tandem::ConsoleMux::View::guest) == guest_view);
        check(mux.waiting() <= tandem::ConsoleMux::kTypeAhead);
        if (i % 8 == 0) {
            guest.room = room_per_delivery;
            mux.deliver();
        }
    }
    guest.room = ~std::size_t{0};
    mux.deliver();
    check(mux.waiting() == 0);
    check(guest.received.size() + mux.dropped() == expected.size());
    if (mux.dropped() == 0) {
        check(guest.received == expected);
    } else {
        // Drops take bytes out of the middle: what arrived is a subsequence, in order.
        std::size_t at = 0;
        for (char c : guest.received) {
            at = expected.find(c, at);
            check(at != std::string::npos);
            ++at;
        }
    }
    return 0;
}
