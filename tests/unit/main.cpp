// doctest's main, with one rule doctest lacks: a run whose filters (-tc, -ts, -sf, ...) select no
// test case fails. Otherwise a CTest entry whose filter has gone stale (a test renamed, a pattern
// mistyped) would pass while running nothing. Queries (--count, --list-test-cases, --help, ...)
// run no test on purpose and are left alone: doctest starts a test run only when it runs tests.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {

struct RunCounter {
    bool run_started = false;
    unsigned cases_started = 0;
};
RunCounter g_counter;

// A listener sees every event whatever reporter prints them.
class CountingListener final : public doctest::IReporter {
public:
    explicit CountingListener(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override { g_counter.run_started = true; }
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData&) override { ++g_counter.cases_started; }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("tandem_run_counter", 1, CountingListener);

int main(int argc, char** argv) {
    doctest::Context context(argc, argv);
    int result = context.run();
    if (context.shouldExit()) return result;
    if (g_counter.run_started && g_counter.cases_started == 0) {
        std::fprintf(stderr, "unit_tests: the filters selected no test case: nothing was tested (failing)\n");
        return result != 0 ? result : 1;
    }
    return result;
}
