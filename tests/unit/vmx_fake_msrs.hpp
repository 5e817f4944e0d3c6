// VMX capability MSRs of Bochs's CPU models, from the fixture vmx_msrs_bochs.txt: per model the
// nine capability MSRs and the CR0/CR4 fixed-bit MSRs, as tandem's boot report printed them.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <sstream>
#include <string>

#include "arch-x86_64/vmx/vmx_capabilities.hpp"
#include "helpers.hpp"

namespace test {

inline const std::map<std::string, tandem::x86::VmxCapabilityMsrs>& bochs_vmx_models() {
    static const std::map<std::string, tandem::x86::VmxCapabilityMsrs> all = [] {
        std::map<std::string, tandem::x86::VmxCapabilityMsrs> out;
        std::istringstream in(read_text_fixture("vmx_msrs_bochs.txt"));
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty() || line[0] == '#') continue;
            std::istringstream words(line);
            std::string name, field;
            words >> name;
            tandem::x86::VmxCapabilityMsrs m;
            m.cpuid_vmx = true;
            std::map<std::string, std::uint64_t*> slots = {
                {"feature_control", &m.feature_control}, {"basic", &m.basic},   {"pinbased", &m.pinbased},
                {"procbased", &m.procbased},             {"procbased2", &m.procbased2},
                {"exit", &m.exit},                       {"entry", &m.entry},   {"misc", &m.misc},
                {"ept_vpid_cap", &m.ept_vpid_cap},       {"cr0_fixed0", &m.cr0_fixed0},
                {"cr0_fixed1", &m.cr0_fixed1},           {"cr4_fixed0", &m.cr4_fixed0},
                {"cr4_fixed1", &m.cr4_fixed1}};
            while (words >> field) {
                std::size_t eq = field.find('=');
                REQUIRE(eq != std::string::npos);
                REQUIRE(slots.count(field.substr(0, eq)) == 1);
                *slots[field.substr(0, eq)] = std::stoull(field.substr(eq + 1), nullptr, 16);
            }
            REQUIRE(m.cr0_fixed1 != 0);  // the VM-entry tests need the CR fixed bits
            REQUIRE(m.cr4_fixed1 != 0);
            out[name] = m;
        }
        return out;
    }();
    return all;
}

inline tandem::x86::VmxCapabilityMsrs bochs_msrs(const char* model) {
    REQUIRE(bochs_vmx_models().count(model) == 1);
    return bochs_vmx_models().at(model);
}

}  // namespace test
