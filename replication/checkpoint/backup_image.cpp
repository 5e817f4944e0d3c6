#include "replication/checkpoint/backup_image.hpp"

#include "replication/checkpoint/delta_codec.hpp"

namespace tandem::checkpoint {

BackupImage::BackupImage(GuestMemory& image, GuestMemory& staging, std::span<std::uint64_t> staged_gpa,
                         std::span<std::uint64_t> staged_bits)
    : image_(image), staging_(staging), staged_gpa_(staged_gpa), staged_(staged_bits, image.size() / kPageSize) {}

Status BackupImage::begin_epoch(std::uint64_t epoch, std::uint64_t guest_ram, std::uint32_t page_size) {
    if (guest_ram != image_.size()) return Error::of("checkpoint: guest RAM size differs from the backup's", guest_ram);
    if (page_size != kPageSize) return Error::of("checkpoint: unsupported page size", page_size);
    if (has_committed_ && epoch <= committed_epoch_) return Error::of("checkpoint: epoch is not newer than the committed one", epoch);
    staged_.clear();
    staged_count_ = 0;
    cpu_staged_ = false;
    device_count_[committed_slot_ ^ 1] = 0;
    epoch_ = epoch;
    in_epoch_ = true;
    direct_ = !has_committed_;
    return success();
}

void BackupImage::reset() {
    // No clearing of the image here: with nothing committed its content is undefined, the first
    // epoch writes it directly and end_epoch zeroes what that epoch did not send. Clearing
    // guest-sized memory at every new session kept the backup off the link for as long.
    abandon_epoch();
    has_committed_ = false;
    committed_epoch_ = 0;
    device_count_[0] = device_count_[1] = 0;
}

Status BackupImage::stage_page(RecordType kind, std::uint64_t gpa, std::span<const std::uint8_t> data) {
    if (!in_epoch_) return Error::of("checkpoint: page outside an epoch", gpa);
    if (gpa % kPageSize != 0 || !image_.contains(gpa, kPageSize)) return Error::of("checkpoint: page outside guest RAM", gpa);
    std::uint64_t page = gpa / kPageSize;
    if (staged_.test(page)) return Error::of("checkpoint: page sent twice in one epoch", gpa);
    if (!direct_ && (staged_count_ >= staged_gpa_.size() || (staged_count_ + 1) * kPageSize > staging_.size())) {
        return Error::of("checkpoint: staging area full", staged_count_);
    }
    if (auto s = decode_page(kind, gpa, data); !s) return s;
    if (direct_) {
        // The session's first epoch (nothing committed to protect from a partial epoch).
        if (auto s = image_.write(gpa, page_); !s) return s;
    } else {
        if (auto s = staging_.write(staged_count_ * kPageSize, page_); !s) return s;
        staged_gpa_[staged_count_] = gpa;
    }
    ++staged_count_;
    staged_.set(page);
    return success();
}

Status BackupImage::decode_page(RecordType kind, std::uint64_t gpa, std::span<const std::uint8_t> data) {
    switch (kind) {
        case RecordType::page_full:
            if (data.size() != kPageSize) return Error::of("checkpoint: full page of the wrong size", data.size());
            __builtin_memcpy(page_, data.data(), kPageSize);
            return success();
        case RecordType::page_zero:
            __builtin_memset(page_, 0, kPageSize);
            return success();
        case RecordType::page_delta:
            // A delta is against the committed copy of the page; in a session's first epoch
            // against zero, as the primary encodes it.
            if (direct_) {
                __builtin_memset(page_, 0, kPageSize);
            } else if (auto s = image_.read(gpa, page_); !s) {
                return s;
            }
            return apply_delta(data, page_);
        default:
            return Error::of("checkpoint: not a page record", static_cast<std::uint64_t>(kind));
    }
}

Status BackupImage::stage_cpu(std::span<const std::uint8_t> encoded) {
    if (!in_epoch_) return Error::of("checkpoint: CPU state outside an epoch");
    if (cpu_staged_) return Error::of("checkpoint: CPU state sent twice in one epoch");
    if (auto s = cpu_[committed_slot_ ^ 1].decode(encoded); !s) return s;
    cpu_staged_ = true;
    return success();
}

Status BackupImage::stage_device(std::uint16_t id, std::uint16_t version, std::span<const std::uint8_t> state) {
    if (!in_epoch_) return Error::of("checkpoint: device state outside an epoch", id);
    unsigned slot = committed_slot_ ^ 1;
    for (std::size_t i = 0; i < device_count_[slot]; ++i) {
        if (devices_[slot][i].id == id) return Error::of("checkpoint: device state sent twice in one epoch", id);
    }
    if (device_count_[slot] == kMaxDevices) return Error::of("checkpoint: too many devices", kMaxDevices);
    if (state.size() > sizeof(DeviceStateBlob::bytes)) return Error::of("checkpoint: device state too large", id);
    DeviceStateBlob& blob = devices_[slot][device_count_[slot]++];
    blob.id = id;
    blob.version = version;
    blob.size = static_cast<std::uint16_t>(state.size());
    for (std::size_t i = 0; i < state.size(); ++i) blob.bytes[i] = state[i];
    return success();
}

Status BackupImage::end_epoch(std::uint64_t epoch, std::uint32_t pages) {
    if (!in_epoch_ || epoch != epoch_) return Error::of("checkpoint: EPOCH_END for an epoch that did not begin", epoch);
    if (pages != staged_count_) return Error::of("checkpoint: EPOCH_END page count differs from the pages received", pages);
    if (!cpu_staged_) return Error::of("checkpoint: epoch without CPU state", epoch);
    // Everything arrived and checked: apply. Nothing below can fail for a valid staging area.
    if (direct_) {
        // The pages are in place; any the first epoch did not send are zero. Most of a fresh
        // guest is: zeroing it is as long as a large apply, so it keeps the link alive the same way
        // (a 32 MiB guest's zeroing under a loaded emulator outlasted the primary's silence timeout).
        std::uint64_t guest_pages = image_.size() / kPageSize, zeroed = 0;
        for (std::uint64_t p = 0; p < guest_pages && staged_count_ < guest_pages; ++p) {
            if (staged_.test(p)) continue;
            (void)image_.fill(p * kPageSize, 0, kPageSize);  // inside the image
            if (keepalive_ != nullptr && ++zeroed % engine::kKeepaliveEvery == 0) keepalive_->keepalive();
        }
        if (applied_ != nullptr) applied_->set_all();
    }
    for (std::uint64_t i = 0; !direct_ && i < staged_count_; ++i) {
        if (auto s = staging_.read(i * kPageSize, page_); !s) return s;
        if (auto s = image_.write(staged_gpa_[i], page_); !s) return s;
        if (applied_ != nullptr) applied_->set(staged_gpa_[i] / kPageSize);
        if (keepalive_ != nullptr && (i + 1) % engine::kKeepaliveEvery == 0) keepalive_->keepalive();
    }
    committed_slot_ ^= 1;
    committed_epoch_ = epoch;
    has_committed_ = true;
    in_epoch_ = false;
    return success();
}

void BackupImage::abandon_epoch() {
    in_epoch_ = false;
    staged_count_ = 0;
    staged_.clear();
}

}  // namespace tandem::checkpoint
