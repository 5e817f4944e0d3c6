// The backup's copy of the guest (DESIGN §3 step 6): the image of the last committed epoch, and
// the staging area where the epoch being received is assembled. An epoch is applied only when it
// arrived whole and its digest matched (end_epoch); until then the committed image is untouched,
// so a partial epoch is never applied. The exception is a session's first epoch: with nothing
// committed there is nothing to protect, so it goes straight into the image (a full copy of the
// guest staged and then copied again would keep the backup off the link for a guest-sized copy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "hypervisor/util/result.hpp"
#include "hypervisor/vm/guest_memory.hpp"
#include "replication/checkpoint/cpu_state.hpp"
#include "replication/checkpoint/record_format.hpp"
#include "replication/dirty/dirty_bitmap.hpp"
#include "replication/engine/keepalive.hpp"

namespace tandem::checkpoint {

struct DeviceStateBlob {
    std::uint16_t id = 0;
    std::uint16_t version = 0;
    std::uint16_t size = 0;
    std::uint8_t bytes[kDeviceStateMaxPayload - 4]{};  // the record carries id and version besides
};

class BackupImage {
public:
    static constexpr std::size_t kMaxDevices = 8;

    // image: the committed guest RAM. staging: page slots for one epoch (as large as the image,
    // so any epoch fits). staged_gpa: one entry per slot. staged_bits: one bit per guest page.
    BackupImage(GuestMemory& image, GuestMemory& staging, std::span<std::uint64_t> staged_gpa,
                std::span<std::uint64_t> staged_bits);

    Status begin_epoch(std::uint64_t epoch, std::uint64_t guest_ram, std::uint32_t page_size);
    Status stage_page(RecordType kind, std::uint64_t gpa, std::span<const std::uint8_t> data);
    Status stage_cpu(std::span<const std::uint8_t> encoded);
    Status stage_device(std::uint16_t id, std::uint16_t version, std::span<const std::uint8_t> state);
    // Applies the staged epoch if `pages` matches what was staged; afterwards it is committed.
    // A large epoch is applied with a keepalive every few pages (keepalive.hpp).
    Status end_epoch(std::uint64_t epoch, std::uint32_t pages);
    void set_keepalive(engine::Keepalive* keepalive) { keepalive_ = keepalive; }
    // Lockstep (issue 13): every page a committed epoch changed in the image is set here (all of
    // them for a session's first epoch), so the running guest's RAM can be brought to the image.
    void set_applied_pages(dirty::DirtyBitmap* applied) { applied_ = applied; }
    // Drops a partly received epoch (the stream broke): the committed image stays.
    void abandon_epoch();
    // Forgets everything: nothing committed (a new primary session starts over with a full copy,
    // encoded against an all-zero reference; pages it does not send are zero once committed).
    void reset();

    bool has_committed() const { return has_committed_; }
    std::uint64_t committed_epoch() const { return committed_epoch_; }
    const CpuState& committed_cpu() const { return cpu_[committed_slot_]; }
    std::span<const DeviceStateBlob> committed_devices() const { return {devices_[committed_slot_], device_count_[committed_slot_]}; }
    GuestMemory& image() { return image_; }
    bool in_epoch() const { return in_epoch_; }
    // The epoch being received and how many of its pages have arrived (progress reports).
    std::uint64_t receiving_epoch() const { return epoch_; }
    std::uint64_t staged_pages() const { return staged_count_; }

private:
    // The page a record describes, into page_.
    Status decode_page(RecordType kind, std::uint64_t gpa, std::span<const std::uint8_t> data);

    GuestMemory& image_;
    GuestMemory& staging_;
    std::span<std::uint64_t> staged_gpa_;
    dirty::DirtyBitmap staged_;
    std::uint64_t staged_count_ = 0;
    bool in_epoch_ = false;
    bool direct_ = false;  // the epoch is the session's first: staged straight into the image
    std::uint64_t epoch_ = 0;
    bool cpu_staged_ = false;

    // Double-buffered CPU and device state: slot committed_slot_ is committed, the other stages.
    CpuState cpu_[2];
    DeviceStateBlob devices_[2][kMaxDevices];
    std::size_t device_count_[2]{};
    unsigned committed_slot_ = 0;
    bool has_committed_ = false;
    std::uint64_t committed_epoch_ = 0;
    engine::Keepalive* keepalive_ = nullptr;
    dirty::DirtyBitmap* applied_ = nullptr;
    std::uint8_t page_[kPageSize]{};
};

}  // namespace tandem::checkpoint
