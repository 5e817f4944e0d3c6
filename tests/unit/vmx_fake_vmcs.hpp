// A fake current VMCS for host tests: a map from field encoding to value behind the VmcsAccess
// interface. Writes are truncated to the field's width as VMWRITE does (Intel SDM Vol. 3C
// §25.11.2: 16- and 32-bit fields keep only their low bits; natural width is 64 bits on x86-64),
// and every write the code under test makes is counted, so a test can tell "left alone" from
// "written with the same value". Fields never written read as 0.
#pragma once

#include <cstdint>
#include <map>

#include "arch-x86_64/vmx/vmcs_access.hpp"
#include "arch-x86_64/vmx/vmcs_fields.hpp"

namespace test {

class FakeVmcs final : public tandem::x86::VmcsAccess {
public:
    using Field = tandem::x86::VmcsField;

    std::uint64_t read(Field field) const override {
        auto it = values_.find(tandem::x86::encoding(field));
        return it == values_.end() ? 0 : it->second;
    }
    void write(Field field, std::uint64_t value) override {
        values_[tandem::x86::encoding(field)] = truncate(field, value);
        ++writes_[tandem::x86::encoding(field)];
    }

    // Test setup: sets a field without counting it as a write by the code under test.
    void set(Field field, std::uint64_t value) { values_[tandem::x86::encoding(field)] = truncate(field, value); }
    bool has(Field field) const { return values_.count(tandem::x86::encoding(field)) == 1; }
    unsigned writes(Field field) const {
        auto it = writes_.find(tandem::x86::encoding(field));
        return it == writes_.end() ? 0 : it->second;
    }
    void forget_writes() { writes_.clear(); }
    std::size_t fields_written() const { return writes_.size(); }

    static std::uint64_t truncate(Field field, std::uint64_t value) {
        switch (tandem::x86::width_of(field)) {
            case tandem::x86::VmcsWidth::bits16: return value & 0xffff;
            case tandem::x86::VmcsWidth::bits32: return value & 0xffffffff;
            case tandem::x86::VmcsWidth::bits64:
            case tandem::x86::VmcsWidth::natural: return value;
        }
        return value;
    }

private:
    std::map<std::uint32_t, std::uint64_t> values_;
    std::map<std::uint32_t, unsigned> writes_;
};

}  // namespace test
