// libFuzzer: the command-line parser on arbitrary text, with and without a leading image path.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "arch-x86_64/boot/boot_report.hpp"
#include "hypervisor/config/config.hpp"

namespace {
class CountingWriter final : public tandem::Writer {
public:
    void write(std::string_view text) override { bytes += text.size(); }
    std::size_t bytes = 0;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text{reinterpret_cast<const char*>(data), size};
    for (bool skip_first_word : {false, true}) {
        auto config = std::make_unique<tandem::Config>();
        CountingWriter errors;
        std::size_t problems = tandem::parse_command_line(text, *config, errors, skip_first_word);
        // A clean parse says nothing; every problem says something.
        if ((problems == 0) != (errors.bytes == 0)) std::abort();
        if (config->storage_used > tandem::Config::kStorage) std::abort();
        auto in_storage = [&](std::string_view s) {
            return s.empty() || (s.data() >= config->storage && s.data() + s.size() <= config->storage + config->storage_used);
        };
        if (!in_storage(config->guest_kernel) || !in_storage(config->guest_initrd) || !in_storage(config->guest_cmdline)) {
            std::abort();
        }
        // Bad values are never applied, so the settings are always within their bounds.
        if (config->guest_mem < (16ull << 20) || config->guest_mem > (64ull << 30) || config->guest_mem % (2ull << 20)) {
            std::abort();
        }
        if (config->epoch_ms < 1 || config->epoch_ms > 10000) std::abort();
        if (config->failover_ms < 10 || config->failover_ms > 600000) std::abort();
        CountingWriter report;
        tandem::x86::report_config(report, *config);
    }
    return 0;
}
