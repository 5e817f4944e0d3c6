// The interrupt diagnostic's episodes (hypervisor/vm/interrupt_wait_watch.hpp): a request or a
// HLT is reported once when it has lasted its bound with nothing injected; an injection, or the
// condition ending, starts over; a bound of 0 never reports.
#include <doctest/doctest.h>

#include "hypervisor/vm/interrupt_wait_watch.hpp"

using tandem::InterruptWaitWatch;
using Finding = InterruptWaitWatch::Finding;

TEST_CASE("interrupt wait watch: a request reported at its bound, once, until an injection") {
    InterruptWaitWatch w;
    w.set_bounds(100, 1000);
    CHECK(w.observe(5, true, false, false) == Finding::none);
    CHECK(w.observe(104, true, false, false) == Finding::none);
    CHECK(w.observe(105, true, false, false) == Finding::request_waits);
    CHECK(w.waited(Finding::request_waits, 105) == 100);
    CHECK(w.observe(500, true, false, false) == Finding::none);
    CHECK(w.observe(501, true, true, false) == Finding::none);  // injected
    CHECK(w.observe(502, true, false, false) == Finding::none);
    CHECK(w.observe(602, true, false, false) == Finding::request_waits);
    CHECK(w.reports() == 2);
}

TEST_CASE("interrupt wait watch: the condition ending starts over; a halt has its own bound") {
    InterruptWaitWatch w;
    w.set_bounds(100, 1000);
    CHECK(w.observe(0, true, false, true) == Finding::none);
    CHECK(w.observe(90, false, false, true) == Finding::none);  // the request went (masked, taken back)
    CHECK(w.observe(150, true, false, true) == Finding::none);  // a new request: a new wait
    CHECK(w.observe(249, true, false, true) == Finding::none);
    CHECK(w.observe(250, true, false, true) == Finding::request_waits);
    CHECK(w.observe(999, false, false, true) == Finding::none);
    CHECK(w.observe(1000, false, false, true) == Finding::halted_too_long);
    CHECK(w.waited(Finding::halted_too_long, 1000) == 1000);
    CHECK(w.observe(5000, false, false, true) == Finding::none);
    CHECK(w.observe(5001, false, false, false) == Finding::none);  // ran: the halt ended
    CHECK(w.observe(5002, false, false, true) == Finding::none);
    CHECK(w.observe(6002, false, false, true) == Finding::halted_too_long);
}

TEST_CASE("interrupt wait watch: bounds of 0 (no calibrated clock) never report") {
    InterruptWaitWatch w;
    for (std::uint64_t t = 0; t < 10; ++t) CHECK(w.observe(t * 1000000, true, false, true) == Finding::none);
    CHECK(w.reports() == 0);
}
