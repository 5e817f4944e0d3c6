// Result<T>: the error channel of a codebase built without exceptions.
// An Error carries a static message and, optionally, the number it is about (an offset, a
// length, a register value), so a caller can print "multiboot2: tag runs past the block
// (offset 0x48)" without any allocation.
#pragma once

#include <cstdint>
#include <utility>

namespace tandem {

struct Error {
    const char* message = "";
    std::uint64_t value = 0;
    bool has_value = false;

    static constexpr Error of(const char* msg) { return Error{msg, 0, false}; }
    static constexpr Error of(const char* msg, std::uint64_t v) { return Error{msg, v, true}; }
};

template <class T>
class [[nodiscard]] Result {
public:
    constexpr Result(T value) : value_(std::move(value)), ok_(true) {}  // NOLINT: implicit by design
    constexpr Result(Error error) : error_(error), ok_(false) {}       // NOLINT: implicit by design

    constexpr bool ok() const { return ok_; }
    constexpr explicit operator bool() const { return ok_; }
    constexpr const T& value() const& { return value_; }
    constexpr T& value() & { return value_; }
    constexpr const T* operator->() const { return &value_; }
    constexpr T* operator->() { return &value_; }
    constexpr const T& operator*() const& { return value_; }
    constexpr const Error& error() const { return error_; }

private:
    T value_{};
    Error error_{};
    bool ok_;
};

// Result<void>: success carries nothing.
struct Ok {};
using Status = Result<Ok>;
inline constexpr Status success() { return Status{Ok{}}; }

}  // namespace tandem
