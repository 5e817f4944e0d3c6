// Rate and time left on the join's progress lines (replication/engine/progress_rate.hpp).
#include <doctest/doctest.h>

#include <string>

#include "helpers.hpp"
#include "replication/engine/progress_rate.hpp"

using tandem::engine::ProgressRate;

namespace {
std::string shown(const ProgressRate& r, std::uint64_t remaining) {
    test::StringWriter out;
    r.print(out, remaining, "pages");
    return out.str();
}
}  // namespace

TEST_SUITE("progress_rate") {

TEST_CASE("unknown before the second sample, then the rate over the last interval and the time left") {
    ProgressRate r;
    CHECK(shown(r, 100) == " (rate not known yet)");
    const std::uint64_t hz = 2'000'000'000;  // a 2 GHz TSC
    r.sample(10 * hz, 1000, hz);
    CHECK_FALSE(r.known());
    r.sample(12 * hz, 3000, hz);  // 2000 pages in 2 s
    CHECK(r.per_second() == 1000);
    CHECK(shown(r, 29768) == " (1000 pages/s, about 30 s left)");  // rounded up
    CHECK(shown(r, 0) == " (1000 pages/s, about 0 s left)");
    r.sample(14 * hz, 3000, hz);  // stalled: the link, or a busy guest
    CHECK(shown(r, 29768) == " (0 pages/s)");
    r.sample(15 * hz, 3500, hz);
    CHECK(r.per_second() == 500);
}

TEST_CASE("a clock that did not move, or a count that went back (a new copy), keeps the last rate") {
    ProgressRate r;
    r.sample(0, 0, 1'000'000'000);
    r.sample(1'000'000'000, 64, 1'000'000'000);
    r.sample(1'000'000'000, 128, 1'000'000'000);
    CHECK(r.per_second() == 64);
    r.sample(2'000'000'000, 10, 1'000'000'000);
    CHECK(r.per_second() == 64);
    r.sample(3'000'000'000, 42, 1'000'000'000);  // measured from the restart
    CHECK(r.per_second() == 32);
}

TEST_CASE("large clocks and counts do not overflow") {
    ProgressRate r;
    r.sample(0, 0, 5'000'000'000);
    r.sample(5'000'000'000ull * 3600, 1ull << 40, 5'000'000'000);
    CHECK(r.per_second() == (1ull << 40) / 3600);
}

}  // TEST_SUITE
