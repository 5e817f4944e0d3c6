#include "replication/checkpoint/cpu_state.hpp"

#include "hypervisor/util/fnv.hpp"

namespace tandem::checkpoint {
namespace {
// VMCS encodings have bit 0 = 0 for full fields and use bits 14:0 (SDM Vol. 3C §25.11.2).
bool known_key(std::uint32_t key) {
    if (key < 0x8000) return (key & 1) == 0;
    return key >= cpu_state_keys::gpr_base && key < cpu_state_keys::limit;
}
}  // namespace

Status CpuState::set(std::uint32_t key, std::uint64_t value) {
    for (std::size_t i = 0; i < count_; ++i) {
        if (keys_[i] == key) {
            values_[i] = value;
            return success();
        }
    }
    if (count_ == kMaxFields) return Error::of("cpu state: too many fields", kMaxFields);
    keys_[count_] = key;
    values_[count_] = value;
    ++count_;
    return success();
}

std::optional<std::uint64_t> CpuState::get(std::uint32_t key) const {
    for (std::size_t i = 0; i < count_; ++i) {
        if (keys_[i] == key) return values_[i];
    }
    return std::nullopt;
}

Status CpuState::set_xsave(std::span<const std::uint8_t> image) {
    if (image.size() > kMaxXsave) return Error::of("cpu state: XSAVE image too large", image.size());
    for (std::size_t i = 0; i < image.size(); ++i) xsave_[i] = image[i];
    xsave_size_ = static_cast<std::uint32_t>(image.size());
    return success();
}

void CpuState::encode(ByteWriter& out) const {
    out.put<std::uint16_t>(kVersion);
    out.put<std::uint16_t>(static_cast<std::uint16_t>(count_));
    for (std::size_t i = 0; i < count_; ++i) {
        out.put<std::uint32_t>(keys_[i]);
        out.put<std::uint64_t>(values_[i]);
    }
    out.put<std::uint32_t>(xsave_size_);
    out.put_bytes(xsave());
}

Status CpuState::decode(std::span<const std::uint8_t> in) {
    clear();
    ByteReader r(in);
    std::uint16_t version = 0, count = 0;
    if (!r.get(version) || !r.get(count)) return Error::of("cpu state: truncated header");
    if (version != kVersion) return Error::of("cpu state: unsupported version", version);
    if (count > kMaxFields) return Error::of("cpu state: too many fields", count);
    for (std::uint16_t i = 0; i < count; ++i) {
        std::uint32_t key = 0;
        std::uint64_t value = 0;
        if (!r.get(key) || !r.get(value)) return Error::of("cpu state: truncated field", i);
        if (!known_key(key)) return Error::of("cpu state: unknown field key", key);
        if (get(key)) return Error::of("cpu state: field given twice", key);
        if (auto s = set(key, value); !s) return s;
    }
    std::uint32_t xsave_size = 0;
    std::span<const std::uint8_t> image;
    if (!r.get(xsave_size)) return Error::of("cpu state: truncated XSAVE size");
    if (xsave_size > kMaxXsave) return Error::of("cpu state: XSAVE image too large", xsave_size);
    if (!r.get_bytes(image, xsave_size)) return Error::of("cpu state: truncated XSAVE image", xsave_size);
    if (r.remaining() != 0) return Error::of("cpu state: trailing bytes", r.remaining());
    return set_xsave(image);
}

std::uint64_t CpuState::digest() const {
    std::uint64_t h = kFnv64Offset;
    for (std::size_t i = 0; i < count_; ++i) {
        std::uint8_t bytes[12];
        store_le<std::uint32_t>(bytes, keys_[i]);
        store_le<std::uint64_t>(bytes + 4, values_[i]);
        h = fnv1a64(bytes, sizeof(bytes), h);
    }
    return fnv1a64(xsave_, xsave_size_, h);
}

}  // namespace tandem::checkpoint
