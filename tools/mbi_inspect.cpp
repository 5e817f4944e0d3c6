// mbi-inspect: parse a multiboot 2 information block saved to a file (for example the one
// tandem prints with dump_boot_info=1) with the same parser and report code as the image, and
// print the same report tandem prints at boot. The e2e tests compare the two.
//   mbi-inspect FILE [PHYS_BASE]
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "arch-x86_64/boot/boot_report.hpp"
#include "arch-x86_64/boot/multiboot2.hpp"

namespace {
class StdoutWriter final : public tandem::Writer {
public:
    void write(std::string_view text) override { std::fwrite(text.data(), 1, text.size(), stdout); }
};
}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: mbi-inspect FILE [PHYS_BASE]\n");
        return 2;
    }
    std::FILE* f = std::fopen(argv[1], "rb");
    if (f == nullptr) {
        std::perror(argv[1]);
        return 2;
    }
    std::vector<std::uint8_t> block;
    int c;
    while ((c = std::fgetc(f)) != EOF) block.push_back(static_cast<std::uint8_t>(c));
    std::fclose(f);
    std::uint64_t base = argc > 2 ? std::strtoull(argv[2], nullptr, 0) : 0;

    static tandem::boot::BootInfo info;
    StdoutWriter out;
    if (auto s = tandem::boot::parse_multiboot2(block, base, info); !s) {
        tandem::println(out, "mbi-inspect: {}", s.error());
        return 1;
    }
    tandem::x86::report_boot_info(out, info);
    return 0;
}
