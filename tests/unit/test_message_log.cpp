// tandem's recent messages for the shell's `log` (hypervisor/console/message_log.hpp): everything
// passes through to the console unchanged, and the newest complete lines come back in order, the
// oldest leaving a full ring first.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "helpers.hpp"
#include "hypervisor/console/message_log.hpp"

using tandem::MessageLog;

namespace {

struct Log {
    explicit Log(std::size_t bytes) : storage(bytes), log(target, {storage.data(), storage.size()}) {}
    std::string last(std::size_t lines) {
        test::StringWriter out;
        log.print_last(out, lines);
        return out.str();
    }
    test::StringWriter target;
    std::vector<char> storage;
    MessageLog log;
};

}  // namespace

TEST_SUITE("message_log") {

TEST_CASE("messages pass through unchanged and the last N complete lines come back, oldest first") {
    Log l(1024);
    tandem::println(l.log, "pair: backup joined");
    l.log.write("vm: a line ");
    l.log.write("in two writes\n\n");
    l.log.write("partial");
    CHECK(l.target.str() == "pair: backup joined\nvm: a line in two writes\n\npartial");
    CHECK(l.log.lines_recorded() == 3);
    CHECK(l.last(1) == "\n");
    CHECK(l.last(2) == "vm: a line in two writes\n\n");
    CHECK(l.last(3) == "pair: backup joined\nvm: a line in two writes\n\n");
    CHECK(l.last(100) == l.last(3));  // no more than there are
    CHECK(l.last(0).empty());
    l.log.write(" ends\n");
    CHECK(l.last(1) == "partial ends\n");
}

TEST_CASE("a full ring drops the oldest bytes, and never shows the line they were cut from") {
    Log l(64);
    for (int i = 0; i < 20; ++i) tandem::println(l.log, "message {}", i);  // 11-12 bytes each
    std::string all = l.last(1000);
    CHECK(all.starts_with("message "));
    CHECK(all.ends_with("message 19\n"));
    CHECK(all.size() <= 64);
    CHECK(all == "message 15\nmessage 16\nmessage 17\nmessage 18\nmessage 19\n");
    CHECK(l.last(2) == "message 18\nmessage 19\n");
    CHECK(l.log.lines_recorded() == 20);
}

TEST_CASE("a line longer than the ring is not shown; nothing at all before the first newline") {
    Log l(16);
    l.log.write(std::string(40, 'x'));
    CHECK(l.last(5).empty());
    l.log.write("\nok\n");
    CHECK(l.last(5) == "ok\n");
    Log none(0);
    none.log.write("passes\n");
    CHECK(none.target.str() == "passes\n");
    CHECK(none.last(5).empty());
}

}  // TEST_SUITE
