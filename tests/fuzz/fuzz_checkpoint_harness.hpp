// Shared by the checkpoint-decoder fuzzer and its seed writer: a 4-page backup image (committed
// memory and staging in static buffers behind a HostMemoryWindow), and the input layout
//   byte 0     chunking seed (0: the whole stream in one piece)
//   byte 1     largest piece: 2^(byte % 16) bytes
//   bytes 2..  the checkpoint stream
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "hypervisor/vm/guest_memory.hpp"
#include "replication/checkpoint/backup_image.hpp"
#include "replication/checkpoint/decoder.hpp"

namespace fuzz {

inline constexpr std::uint64_t kCheckpointPages = 4;
inline constexpr std::uint64_t kCheckpointRam = kCheckpointPages * tandem::checkpoint::kPageSize;
inline constexpr std::size_t kCheckpointPrefix = 2;

class BufferWindow final : public tandem::HostMemoryWindow {
public:
    static constexpr std::uint64_t kImageBase = 0x10'0000, kStagingBase = 0x20'0000;
    std::uint8_t* at(std::uint64_t hpa, std::size_t length) const override {
        for (auto [base, bytes] : {std::pair{kImageBase, image}, std::pair{kStagingBase, staging}}) {
            if (hpa >= base && hpa - base <= kCheckpointRam && length <= kCheckpointRam - (hpa - base)) {
                return bytes + (hpa - base);
            }
        }
        return nullptr;
    }
    std::uint8_t* image = nullptr;
    std::uint8_t* staging = nullptr;
};

// A backup with nothing committed, its image zeroed.
struct CheckpointBackup {
    CheckpointBackup() : image_memory(window), staging_memory(window) {
        window.image = image_bytes;
        window.staging = staging_bytes;
        if (!image_memory.append(BufferWindow::kImageBase, kCheckpointRam) ||
            !staging_memory.append(BufferWindow::kStagingBase, kCheckpointRam)) {
            __builtin_trap();
        }
        backup = std::make_unique<tandem::checkpoint::BackupImage>(image_memory, staging_memory, staged_gpa, staged_bits);
        decoder = std::make_unique<tandem::checkpoint::StreamDecoder>(*backup);
    }

    std::uint8_t image_bytes[kCheckpointRam]{};
    std::uint8_t staging_bytes[kCheckpointRam]{};
    std::uint64_t staged_gpa[kCheckpointPages]{};
    std::uint64_t staged_bits[1]{};
    BufferWindow window;
    tandem::GuestMemory image_memory, staging_memory;
    std::unique_ptr<tandem::checkpoint::BackupImage> backup;
    std::unique_ptr<tandem::checkpoint::StreamDecoder> decoder;
};

}  // namespace fuzz
