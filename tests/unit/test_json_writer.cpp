// The console's JSON writer (hypervisor/console/json_writer.hpp): what it writes is parsed by an
// independent parser (nlohmann's) and compared value by value.
#include <doctest/doctest.h>

#include <string>

#include "hypervisor/console/json_writer.hpp"
#include "json_schema_check.hpp"

namespace {
struct StringOut final : tandem::Writer {
    void write(std::string_view text) override { text_.append(text); }
    std::string text_;
};
}  // namespace

TEST_CASE("json writer: nested objects, arrays, every value type, one line") {
    StringOut out;
    tandem::JsonWriter json(out);
    json.begin_object();
    json.field("schema", std::uint64_t{1});
    json.field("max", ~std::uint64_t{0});
    json.field("yes", true);
    json.field("no", false);
    json.null_field("none");
    json.maybe_field("known", true, 7);
    json.maybe_field("unknown", false, 7);
    json.object_field("inner");
    json.field("a", "b");
    json.object_field("deeper");
    json.end_object();
    json.end_object();
    json.key("list");
    json.begin_array();
    json.value(std::uint64_t{1});
    json.value("two");
    json.begin_object();
    json.end_object();
    json.null();
    json.end_array();
    json.end_object();
    json.end_line();
    CHECK(json.complete());
    REQUIRE(out.text_.back() == '\n');
    CHECK(out.text_.find('\n') == out.text_.size() - 1);  // one line
    auto v = nlohmann::json::parse(out.text_);
    CHECK(v["schema"] == 1);
    CHECK(v["max"].get<std::uint64_t>() == ~std::uint64_t{0});
    CHECK(v["yes"] == true);
    CHECK(v["no"] == false);
    CHECK(v["none"].is_null());
    CHECK(v["known"] == 7);
    CHECK(v["unknown"].is_null());
    CHECK(v["inner"]["a"] == "b");
    CHECK(v["inner"]["deeper"].is_object());
    CHECK(v["inner"]["deeper"].empty());
    CHECK(v["list"] == nlohmann::json::parse(R"([1, "two", {}, null])"));
}

TEST_CASE("json writer: quotes, backslashes and control characters are escaped (RFC 8259 section 7)") {
    StringOut out;
    tandem::JsonWriter json(out);
    const std::string nasty = std::string("a\"b\\c\nd\te") + '\0' + "\x01\x1f\x7f" + "}{,:";
    json.begin_object();
    json.field(nasty, std::string_view(nasty));
    json.end_object();
    CHECK(json.complete());
    CHECK(out.text_.find('\n') == std::string::npos);
    auto v = nlohmann::json::parse(out.text_);
    REQUIRE(v.size() == 1);
    CHECK(v.begin().key() == nasty);
    CHECK(v.begin().value() == nasty);
}

TEST_CASE("json writer: unbalanced or too deep nesting is reported by complete()") {
    StringOut out;
    tandem::JsonWriter open(out);
    open.begin_object();
    CHECK_FALSE(open.complete());
    tandem::JsonWriter closed_twice(out);
    closed_twice.begin_object();
    closed_twice.end_object();
    closed_twice.end_object();
    CHECK_FALSE(closed_twice.complete());
    tandem::JsonWriter deep(out);
    for (std::size_t i = 0; i <= tandem::JsonWriter::kMaxDepth; ++i) deep.begin_array();
    for (std::size_t i = 0; i <= tandem::JsonWriter::kMaxDepth; ++i) deep.end_array();
    CHECK_FALSE(deep.complete());
}

TEST_CASE("json schema check: the checker itself refuses what the console schema forbids") {
    // The checker is what the pair tests rely on: it must be able to fail.
    CHECK(schema_test::check_console_json(R"({"schema":1,"kind":"version","tandem":"0.1.0","build":"aa:bb"})").empty());
    CHECK_FALSE(schema_test::check_console_json(R"({"schema":2,"kind":"version","tandem":"0.1.0","build":"aa"})").empty());
    CHECK_FALSE(schema_test::check_console_json(R"({"schema":1,"kind":"version","tandem":"0.1.0"})").empty());
    CHECK_FALSE(schema_test::check_console_json(R"({"schema":1,"kind":"version","tandem":1,"build":"aa"})").empty());
    CHECK_FALSE(
        schema_test::check_console_json(R"({"schema":1,"kind":"version","tandem":"0","build":"aa","extra":0})").empty());
    CHECK_FALSE(schema_test::check_console_json(R"({"schema":1,"kind":"nothing"})").empty());
    CHECK_FALSE(schema_test::check_console_json("{not json").empty());
}
