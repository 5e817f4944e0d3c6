// libFuzzer: the multiboot 1 parser over a fake physical memory that holds the input at
// kBase, with the information structure at its start. Pointers into the input are
// kBase + offset; everything else is unreadable.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "arch-x86_64/boot/boot_report.hpp"
#include "arch-x86_64/boot/multiboot1.hpp"

namespace {
constexpr std::uint64_t kBase = 0x10000;

class InputMemory final : public tandem::boot::PhysicalReader {
public:
    InputMemory(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    std::span<const std::uint8_t> bytes(std::uint64_t phys, std::size_t length) const override {
        if (phys < kBase || phys - kBase > size_ || length > size_ - (phys - kBase)) return {};
        return {data_ + (phys - kBase), length};
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
};

class NullWriter final : public tandem::Writer {
public:
    void write(std::string_view) override {}
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static auto* info = new tandem::boot::BootInfo;
    InputMemory memory(data, size);
    if (!tandem::boot::parse_multiboot1(memory, kBase, *info)) return 0;

    if (info->region_count > tandem::boot::BootInfo::kMaxRegions) std::abort();
    if (info->module_count > tandem::boot::BootInfo::kMaxModules) std::abort();
    for (const auto& e : info->loader_data()) {
        if (e.end < e.start) std::abort();
        if (e.start != e.end && (e.start < kBase || e.end > kBase + size)) std::abort();  // only what was read
    }
    NullWriter out;
    tandem::x86::report_boot_info(out, *info);
    (void)tandem::x86::validate_modules(*info);
    return 0;
}
