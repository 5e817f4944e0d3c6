#include "hypervisor/console/console.hpp"

namespace tandem {
namespace {
class NullWriter final : public Writer {
public:
    void write(std::string_view) override {}
};
constinit NullWriter null_writer;
constinit Writer* current = &null_writer;
}  // namespace

Writer& console() { return *current; }
void attach_console(Writer& writer) { current = &writer; }

}  // namespace tandem
