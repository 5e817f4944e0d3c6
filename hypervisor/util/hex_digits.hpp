// Hexadecimal digits in text tandem is given (the command line, GRUB modules): one helper, so
// every parser accepts the same digits.
#pragma once

namespace tandem {

// The value of one hexadecimal digit ('0'-'9', 'a'-'f', 'A'-'F'), -1 for any other character.
constexpr int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static_assert(hex_digit('0') == 0 && hex_digit('9') == 9 && hex_digit('a') == 10 && hex_digit('F') == 15);
static_assert(hex_digit('g') == -1 && hex_digit('/') == -1 && hex_digit(':') == -1 && hex_digit('@') == -1);

}  // namespace tandem
