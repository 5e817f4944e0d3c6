// A serial port for the buffered console's tests (hypervisor/console/buffered_console.hpp): it
// records what went out and how, takes at most what ready() offered without waiting, and says
// how often the console waited for it.
#pragma once

#include <doctest/doctest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "hypervisor/console/buffered_console.hpp"
#include "hypervisor/console/serial_port.hpp"

namespace test {

class FakeSerialPort final : public tandem::SerialPort {
public:
    std::size_t ready() override {
        ++ready_calls;
        allowance_ = room;
        return room;
    }
    void put(char c) override {
        CHECK(allowance_ > 0);  // only what ready() offered
        if (allowance_ > 0) --allowance_;
        sent += c;
    }
    void put_waiting(char c) override {
        sent += c;
        ++waited;
    }

    std::size_t room = 16;  // what the transmitter takes now (a 16550A with THR empty)
    std::string sent;
    std::size_t waited = 0;       // bytes the console waited for
    std::size_t ready_calls = 0;  // line-status reads

private:
    std::size_t allowance_ = 0;
};

// A buffered console over a ring of `bytes` and the fake port.
struct ConsoleRig {
    explicit ConsoleRig(std::size_t bytes = 4096, std::size_t held_bytes = 2048)
        : storage(bytes), held(held_bytes), console({storage.data(), storage.size()}, {held.data(), held.size()}, port) {}

    // Drains until nothing waits, with the port taking `room` bytes each time.
    void drain_all() {
        for (int i = 0; i < 100000 && console.waiting() != 0; ++i) console.drain();
        console.drain();  // the marker line for what was dropped, if any
        for (int i = 0; i < 100000 && console.waiting() != 0; ++i) console.drain();
    }

    FakeSerialPort port;
    std::vector<char> storage;
    std::vector<char> held;
    tandem::BufferedConsole console;
};

}  // namespace test
