// libFuzzer: the multiboot 2 parser on arbitrary bytes, then the code that consumes its output.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "arch-x86_64/boot/boot_report.hpp"
#include "arch-x86_64/boot/multiboot2.hpp"

namespace {
class NullWriter final : public tandem::Writer {
public:
    void write(std::string_view) override {}
};

bool inside(std::string_view s, const std::uint8_t* data, std::size_t size) {
    auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    return s.empty() || (p >= data && p + s.size() < data + size);  // the NUL is inside too
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static auto* info = new tandem::boot::BootInfo;
    std::span<const std::uint8_t> block{data, size};
    (void)tandem::boot::multiboot2_total_size(block);
    if (!tandem::boot::parse_multiboot2(block, 0x100000, *info)) return 0;

    // What a successful parse promises.
    if (info->region_count > tandem::boot::BootInfo::kMaxRegions) std::abort();
    if (info->module_count > tandem::boot::BootInfo::kMaxModules) std::abort();
    if (!inside(info->cmdline, data, size) || !inside(info->loader_name, data, size)) std::abort();
    for (const auto& m : info->module_list()) {
        if (m.end < m.start || !inside(m.cmdline, data, size)) std::abort();
    }
    for (const auto& r : info->memory_map()) {
        if (r.length != 0 && r.base + r.length < r.base) std::abort();
    }
    NullWriter out;
    tandem::x86::report_boot_info(out, *info);
    (void)tandem::x86::validate_modules(*info);
    return 0;
}
