// A checker for the part of JSON Schema (draft 2020-12) that docs/console-schema.json uses:
// type, const, enum, minimum, required, properties, oneOf and local $ref ("#/$defs/..."). It
// returns what does not match, with the path, so a failing test says which field is wrong.
// (tandemctl's Python tests check the same file with python3-jsonschema, the full
// implementation.) One thing is stricter than JSON Schema: a field the schema does not list is
// an error, so nothing tandem writes goes undocumented.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace schema_test {

using nlohmann::json;

inline json load_console_schema() {
    std::ifstream in(TANDEM_CONSOLE_SCHEMA);
    return json::parse(in);
}

inline bool has_type(const json& v, const std::string& type) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "integer") return v.is_number_integer();
    if (type == "number") return v.is_number();
    if (type == "boolean") return v.is_boolean();
    if (type == "null") return v.is_null();
    return false;
}

// Empty when `v` matches `s`; otherwise the first mismatch found.
inline std::string check(const json& root, const json& s, const json& v, const std::string& path) {
    if (s.contains("$ref")) {
        std::string ref = s["$ref"].get<std::string>();
        const std::string prefix = "#/$defs/";
        if (ref.rfind(prefix, 0) != 0) return path + ": unsupported $ref " + ref;
        std::string failed = check(root, root["$defs"][ref.substr(prefix.size())], v, path);
        if (!failed.empty()) return failed;
    }
    if (s.contains("type") && !has_type(v, s["type"].get<std::string>())) return path + ": not of type " + s["type"].dump();
    if (s.contains("const") && v != s["const"]) return path + ": " + v.dump() + " is not " + s["const"].dump();
    if (s.contains("enum")) {
        bool found = false;
        for (const json& e : s["enum"]) found = found || e == v;
        if (!found) return path + ": " + v.dump() + " is not one of " + s["enum"].dump();
    }
    if (s.contains("minimum") && v.is_number() && v.get<double>() < s["minimum"].get<double>()) {
        return path + ": " + v.dump() + " is below the minimum";
    }
    if (s.contains("oneOf")) {
        int matches = 0;
        for (const json& option : s["oneOf"]) matches += check(root, option, v, path).empty() ? 1 : 0;
        if (matches != 1) return path + ": " + v.dump() + " matches " + std::to_string(matches) + " of oneOf";
    }
    if (s.contains("required") && v.is_object()) {
        for (const json& name : s["required"]) {
            if (!v.contains(name.get<std::string>())) return path + ": missing " + name.get<std::string>();
        }
    }
    if (s.contains("properties") && v.is_object()) {
        // Stricter than JSON Schema, on purpose: every field tandem writes is documented.
        for (const auto& [name, value] : v.items()) {
            if (!s["properties"].contains(name)) return path + ": field '" + name + "' is not in the schema";
        }
        for (const auto& [name, sub] : s["properties"].items()) {
            if (!v.contains(name)) continue;
            std::string failed = check(root, sub, v[name], path + "." + name);
            if (!failed.empty()) return failed;
        }
    }
    return {};
}

// Whether one line of console output is JSON of the console schema: empty, or what is wrong.
inline std::string check_console_json(const std::string& line) {
    static const json schema = load_console_schema();
    json v = json::parse(line, nullptr, false);
    if (v.is_discarded()) return "not JSON: " + line;
    return check(schema, schema, v, "$");
}

}  // namespace schema_test
