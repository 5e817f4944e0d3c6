#include "hypervisor/console/console.hpp"

namespace tandem {
namespace {
class NullWriter final : public Writer {
public:
    void write(std::string_view) override {}
};
constinit NullWriter null_writer;
constinit Writer* current = &null_writer;
constinit Writer* current_guest = &null_writer;
}  // namespace

Writer& console() { return *current; }
Writer& guest_console() { return *current_guest; }
void attach_console(Writer& writer) { attach_console(writer, writer); }
void attach_console(Writer& own, Writer& guest) {
    current = &own;
    current_guest = &guest;
}

}  // namespace tandem
