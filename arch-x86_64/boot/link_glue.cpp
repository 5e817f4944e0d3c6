#include "arch-x86_64/boot/link_glue.hpp"

#include "arch-x86_64/cpu/intrinsics.hpp"
#include "replication/link/link_key_text.hpp"

namespace tandem::x86 {

std::uint64_t TscClock::now_ns() {
    std::uint64_t t = rdtsc();
    return t / khz_ * 1'000'000 + t % khz_ * 1'000'000 / khz_;
}

// The key: key= on the command line, or a module named link_key holding 64 hex digits
// (whitespace allowed; link_key_text.hpp). Both at once is ambiguous and refused.
Result<link::LinkSecret> link_secret(const Config& config, const boot::BootInfo& boot) {
    crypto::Key key{};
    bool has_key = config.has_key;
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = config.key[i];
    for (const boot::BootModule& m : boot.module_list()) {
        if (m.cmdline.substr(0, m.cmdline.find(' ')) != "link_key") continue;
        if (has_key) return Error::of("both key= and a link_key module give a key: use one");
        std::span<const std::uint8_t> text{reinterpret_cast<const std::uint8_t*>(m.start),
                                           static_cast<std::size_t>(m.end - m.start)};
        auto parsed = link::parse_link_key_text(text);
        if (!parsed) return parsed.error();
        key = *parsed;
        has_key = true;
    }
    return link::make_link_secret(has_key, key, config.insecure_link);
}

namespace {
std::uint64_t g_session_salt = 0;
std::uint64_t g_sessions = 0;

std::uint64_t mix64(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}
}  // namespace

void salt_session_ids(const MacAddress& mac) {
    for (std::uint8_t b : mac.bytes) g_session_salt = g_session_salt << 8 | b;
}

std::uint64_t session_id() {
    // RDRAND where present, the TSC, this machine's link MAC and a counter, mixed. RDRAND alone
    // is not enough: Bochs implements it with the C library's rand(), so two emulated machines
    // started together draw the same numbers, and two sides with one session id take each
    // other's HELLO for their own reflection and never connect. Both sides contribute to the
    // traffic keys, so a repeat on one side alone does not repeat a nonce (link_keys.hpp).
    std::uint64_t random = 0;
    if ((cpuid(1).ecx >> 30) & 1) {
        for (int i = 0; i < 10 && !rdrand64(random); ++i) {
        }
    }
    std::uint64_t value = mix64(random ^ mix64(rdtsc() ^ mix64(g_session_salt + ++g_sessions)));
    return value == 0 ? 1 : value;
}

}  // namespace tandem::x86
