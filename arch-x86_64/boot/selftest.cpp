#include "arch-x86_64/boot/selftest.hpp"

#include <cstdint>

#include "hypervisor/console/console.hpp"

namespace tandem::x86 {
namespace {
// A data-segment buffer holding "ret": executing it must fault (NX on data).
constinit std::uint8_t data_code[16] = {0xc3};

[[gnu::noinline]] void target_in_text() { asm volatile(""); }
}  // namespace

void run_selftest(Selftest which) {
    switch (which) {
        case Selftest::none:
            return;
        case Selftest::invalid_opcode:
            println(console(), "selftest: executing ud2");
            asm volatile("ud2");
            break;
        case Selftest::write_text: {
            auto* text = reinterpret_cast<volatile std::uint8_t*>(&target_in_text);
            println(console(), "selftest: writing to hypervisor text at {}", hex(reinterpret_cast<std::uint64_t>(text)));
            *text = 0xcc;
            break;
        }
        case Selftest::exec_data: {
            println(console(), "selftest: executing hypervisor data at {}",
                    hex(reinterpret_cast<std::uint64_t>(&data_code[0])));
            auto fn = reinterpret_cast<void (*)()>(reinterpret_cast<std::uintptr_t>(&data_code[0]));
            fn();
            break;
        }
        case Selftest::null_deref: {
            println(console(), "selftest: reading address 0");
            volatile std::uint64_t* null_pointer = nullptr;
            asm volatile("" : "+r"(null_pointer));  // keep the compiler from treating this as UB
            (void)*null_pointer;
            break;
        }
    }
    println(console(), "selftest: the deliberate fault did not happen");
}

}  // namespace tandem::x86
