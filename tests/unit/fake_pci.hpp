// A fake PCI configuration space for enumeration tests: functions with register files, BARs that
// size like hardware (only the address bits above the size stick), a command register, a
// write-one-to-clear status register, and bridges. It watches the enumerator: BAR writes while
// memory/I/O decode is on, writes to the status register, every access (for counting).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <vector>

#include "nic-drivers/pci/config_registers.hpp"
#include "nic-drivers/pci/config_space.hpp"

namespace test {

using tandem::pci::Address;

class FakeConfigSpace final : public tandem::pci::ConfigSpace {
public:
    struct Function {
        std::array<std::uint8_t, 256> bytes{};
        std::array<std::uint32_t, 6> bar_mask{};  // address bits that stick in each BAR dword
        unsigned bar_writes_while_decoding = 0;
        unsigned status_writes = 0;
        unsigned command_writes = 0;

        std::uint32_t dword(std::uint16_t offset) const {
            return static_cast<std::uint32_t>(bytes[offset]) | static_cast<std::uint32_t>(bytes[offset + 1]) << 8 |
                   static_cast<std::uint32_t>(bytes[offset + 2]) << 16 |
                   static_cast<std::uint32_t>(bytes[offset + 3]) << 24;
        }
        void set_dword(std::uint16_t offset, std::uint32_t v) {
            for (unsigned i = 0; i < 4; ++i) bytes[offset + i] = static_cast<std::uint8_t>(v >> (8 * i));
        }
        std::uint16_t command() const { return static_cast<std::uint16_t>(dword(0x04)); }
        unsigned bar_count() const {
            unsigned layout = bytes[0x0e] & 0x7fu;
            return layout == 0 ? 6 : layout == 1 ? 2 : 0;
        }
    };

    struct Access {
        Address at;
        std::uint16_t offset;
        unsigned width;
        bool write;
        std::uint32_t value;
    };

    // A function; header_type includes the multi-function bit (0x80) when wanted.
    Function& add(Address at, std::uint16_t vendor, std::uint16_t device, std::uint8_t class_code,
                  std::uint8_t subclass, std::uint8_t header_type = 0, std::uint8_t prog_if = 0,
                  std::uint8_t revision = 0) {
        Function& f = functions_[at.key()];
        f = Function{};
        f.set_dword(0x00, static_cast<std::uint32_t>(device) << 16 | vendor);
        f.bytes[0x08] = revision;
        f.bytes[0x09] = prog_if;
        f.bytes[0x0a] = subclass;
        f.bytes[0x0b] = class_code;
        f.bytes[0x0e] = header_type;
        f.bytes[0x3c] = 0xff;
        return f;
    }
    Function& at(Address a) {
        auto it = functions_.find(a.key());
        if (it == functions_.end()) throw std::logic_error("fake pci: no such function");
        return it->second;
    }
    bool has(Address a) const { return functions_.count(a.key()) != 0; }

    void bar_memory32(Address a, unsigned index, std::uint32_t base, std::uint32_t size, bool prefetchable = false) {
        Function& f = at(a);
        f.set_dword(bar_offset(index), base | (prefetchable ? 8u : 0u));
        f.bar_mask[index] = ~(size - 1) & 0xffff'fff0u;
    }
    void bar_memory64(Address a, unsigned index, std::uint64_t base, std::uint64_t size, bool prefetchable = false) {
        Function& f = at(a);
        f.set_dword(bar_offset(index), static_cast<std::uint32_t>(base) | 4u | (prefetchable ? 8u : 0u));
        f.set_dword(bar_offset(index + 1), static_cast<std::uint32_t>(base >> 32));
        f.bar_mask[index] = static_cast<std::uint32_t>(~(size - 1)) & 0xffff'fff0u;
        f.bar_mask[index + 1] = static_cast<std::uint32_t>(~(size - 1) >> 32);
    }
    // An I/O BAR; a 16-bit decoder reads zeros in the upper half.
    void bar_io(Address a, unsigned index, std::uint32_t base, std::uint32_t size, bool decode16 = false) {
        Function& f = at(a);
        f.set_dword(bar_offset(index), base | 1u);
        f.bar_mask[index] = ~(size - 1) & (decode16 ? 0x0000'fffcu : 0xffff'fffcu);
    }
    void bridge(Address a, std::uint8_t primary, std::uint8_t secondary, std::uint8_t subordinate) {
        Function& f = at(a);
        f.bytes[0x18] = primary;
        f.bytes[0x19] = secondary;
        f.bytes[0x1a] = subordinate;
    }
    void set_command(Address a, std::uint16_t command) {
        Function& f = at(a);
        f.bytes[0x04] = static_cast<std::uint8_t>(command);
        f.bytes[0x05] = static_cast<std::uint8_t>(command >> 8);
    }
    void set_status(Address a, std::uint16_t status) {
        Function& f = at(a);
        f.bytes[0x06] = static_cast<std::uint8_t>(status);
        f.bytes[0x07] = static_cast<std::uint8_t>(status >> 8);
    }
    void set_interrupt(Address a, std::uint8_t line, std::uint8_t pin) {
        at(a).bytes[0x3c] = line;
        at(a).bytes[0x3d] = pin;
    }

    // Old devices that ignore the function number: every function of the slot answers with
    // function 0's registers.
    void ghost_all_functions(Address a) { ghosts_.push_back(a.key()); }

    std::uint16_t limit() const override { return 256; }

    std::uint32_t read(Address a, std::uint16_t offset, unsigned width) override {
        log_.push_back({a, offset, width, false, 0});
        Function* f = find(a);
        if (f == nullptr) return width == 4 ? 0xffff'ffffu : (1u << (8 * width)) - 1;
        std::uint32_t v = 0;
        for (unsigned i = 0; i < width; ++i) v |= static_cast<std::uint32_t>(f->bytes[offset + i]) << (8 * i);
        return v;
    }

    void write(Address a, std::uint16_t offset, unsigned width, std::uint32_t value) override {
        log_.push_back({a, offset, width, true, value});
        Function* f = find(a);
        if (f == nullptr) return;
        std::uint16_t base = static_cast<std::uint16_t>(offset & ~3u);
        std::uint32_t lanes = (width == 4 ? 0xffff'ffffu : ((1u << (8 * width)) - 1)) << (8 * (offset & 3u));
        std::uint32_t shifted = value << (8 * (offset & 3u));
        std::uint32_t old = f->dword(base);
        if (base == 0x04) {
            std::uint32_t cmd_lanes = lanes & 0xffffu;
            if (cmd_lanes != 0) ++f->command_writes;
            std::uint32_t next = (old & ~cmd_lanes) | (shifted & cmd_lanes);
            std::uint32_t clear = shifted & lanes & 0xffff'0000u;  // status: write one to clear
            if ((lanes & 0xffff'0000u) != 0) ++f->status_writes;
            f->set_dword(base, next & ~clear);
            return;
        }
        unsigned bar = (base - 0x10u) / 4;
        if (base >= 0x10 && bar < f->bar_count()) {
            if ((f->command() & 0x3u) != 0) ++f->bar_writes_while_decoding;
            std::uint32_t merged = (old & ~lanes) | (shifted & lanes);
            f->set_dword(base, (merged & f->bar_mask[bar]) | (old & ~f->bar_mask[bar]));
            return;
        }
        bool writable = base == 0x3c || (base == 0x18 && f->bar_count() == 2);
        if (base == 0x3c) lanes &= 0xffu;  // interrupt line only
        if (writable) f->set_dword(base, (old & ~lanes) | (shifted & lanes));
    }

    const std::vector<Access>& log() const { return log_; }
    void clear_log() { log_.clear(); }

private:
    static std::uint16_t bar_offset(unsigned index) { return static_cast<std::uint16_t>(0x10 + 4 * index); }

    Function* find(Address a) {
        auto it = functions_.find(a.key());
        if (it != functions_.end()) return &it->second;
        for (std::uint32_t g : ghosts_) {
            if ((g & ~7u) == (a.key() & ~7u)) return &functions_.at(g);
        }
        return nullptr;
    }

    std::map<std::uint32_t, Function> functions_;
    std::vector<std::uint32_t> ghosts_;
    std::vector<Access> log_;
};

}  // namespace test
