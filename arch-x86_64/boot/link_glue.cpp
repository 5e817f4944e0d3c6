#include "arch-x86_64/boot/link_glue.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"

namespace tandem::x86 {

Status NicChannel::transmit(std::span<const std::uint8_t> frame) {
    nic::Frame f = frame;
    if (nic_.transmit({&f, 1}) == 1) return success();
    return Error::of("link: the NIC's transmit ring is full");
}

std::uint64_t TscClock::now_ns() {
    std::uint64_t t = rdtsc();
    return t / khz_ * 1'000'000 + t % khz_ * 1'000'000 / khz_;
}

namespace {
int hex_digit(std::uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

// The key: key= on the command line, or a module named link_key holding 64 hex digits
// (surrounding whitespace allowed). Both at once is ambiguous and refused.
Result<link::LinkSecret> link_secret(const Config& config, const boot::BootInfo& boot) {
    std::uint8_t key[32]{};
    bool has_key = config.has_key;
    for (std::size_t i = 0; i < 32; ++i) key[i] = config.key[i];
    for (const boot::BootModule& m : boot.module_list()) {
        if (m.cmdline.substr(0, m.cmdline.find(' ')) != "link_key") continue;
        if (has_key) return Error::of("both key= and a link_key module give a key: use one");
        std::span<const std::uint8_t> text{reinterpret_cast<const std::uint8_t*>(m.start),
                                           static_cast<std::size_t>(m.end - m.start)};
        std::size_t digits = 0;
        for (std::uint8_t c : text) {
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
            int d = hex_digit(c);
            if (d < 0 || digits == 64) return Error::of("the link_key module is not 64 hexadecimal digits");
            key[digits / 2] = static_cast<std::uint8_t>(key[digits / 2] << 4 | d);
            ++digits;
        }
        if (digits != 64) return Error::of("the link_key module is not 64 hexadecimal digits; digits found", digits);
        has_key = true;
    }
    return link::make_link_secret(has_key, key, config.insecure_link);
}

std::uint64_t session_id() {
    std::uint64_t value = 0;
    if ((cpuid(1).ecx >> 30) & 1) {
        for (int i = 0; i < 10; ++i) {
            if (rdrand64(value) && value != 0) return value;
        }
    }
    // No RDRAND: the TSC, scrambled. Both sides contribute to the traffic keys, so a repeat on
    // one side alone does not repeat a nonce (link_keys.hpp).
    value = rdtsc() * 0x9e3779b97f4a7c15ull;
    return value == 0 ? 1 : value;
}

}  // namespace tandem::x86
