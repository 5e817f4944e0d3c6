// mode=linktest: the replication link measured between two machines (replication/link/
// linktest.hpp streams and checks the data); progress, the result and the link's counters on
// the console. The link keeps being served afterwards.
#pragma once

#include <optional>

#include "replication/link/linktest.hpp"
#include "replication/link/nic_link.hpp"
#include "replication/sessions/session.hpp"
#include "replication/sessions/session_machine.hpp"

namespace tandem::sessions {

class LinktestSession final : public Session {
public:
    explicit LinktestSession(SessionMachine& machine)
        : machine_(machine), out_(machine.out()),
          test_(machine.config().role, static_cast<std::uint64_t>(machine.config().linktest_mib) << 20) {}

    Status start() override;
    Next poll() override;
    void guest_ended(const GuestEnd&) override {}

private:
    void report_refusal();
    void report_observation();
    void report_done();
    void report_progress();
    static void command_link(void* context, std::string_view arguments, Writer& out);

    SessionMachine& machine_;
    Writer& out_;
    link::LinkTest test_;
    std::optional<link::NicChannel> channel_;
    std::optional<link::Transport> transport_;
    std::optional<link::TransportFeed> feed_;
    std::uint64_t started_ = 0, last_progress_ = 0;
    bool reported_refusal_ = false, reported_done_ = false, established_ = false;
    std::uint64_t observed_ = 0;
};

}  // namespace tandem::sessions
