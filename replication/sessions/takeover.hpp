// A guest taken over from a checkpoint (DESIGN §5): the committed epoch's vCPU and device state
// restored into this machine, strictly (every saved model must be one of this machine's and
// every model must get its state, else the takeover is refused with the reason: a model left
// out would run on from a state the backup does not have), and the guest's address announced on
// the client network so its clients' traffic comes here. Used by the pair's backup when it
// promotes and by the local checkpoint session's failover and restores.
#pragma once

#include <span>

#include "replication/checkpoint/backup_image.hpp"
#include "replication/sessions/session_machine.hpp"

namespace tandem::sessions {

// The committed epoch's vCPU and devices into the machine (the device set is checked first: a
// refused takeover changes nothing); the guest's memory is the caller's. On an error the reason
// says what was refused.
Status restore_committed_state(SessionMachine& machine, const checkpoint::BackupImage& image);

// Gratuitous ARPs for guest_ip= from guest_mac= on the client NIC (said on the console), or why
// there are none.
void announce_guest(SessionMachine& machine);

}  // namespace tandem::sessions
