#!/usr/bin/env bash
# Builds tandem and shows it running.
#   ./run-qemu.sh            the protected pair (as root): two Bochs machines with VT-x run the
#                            counter service as a replicated guest (on Debian's stock Linux kernel
#                            when its assets are built: tests/guests/linux/fetch_assets.sh, which
#                            the tests run; else on tandem's counter test guest); a client counts;
#                            the primary is killed; the backup takes over and the count goes on,
#                            nothing lost.
#   ./run-qemu.sh --mode lockstep
#                            the same pair in lockstep: both guests run, each request is forwarded
#                            to the backup's guest and a reply leaves once both produced it.
#   ./run-qemu.sh --single [--engine auto|kvm|bochs|tcg] [--cpu BOCHS_MODEL] [--cmdline "key=value ..."] [--timeout S]
#                            one machine: boot from the GRUB ISO, the demo guest (tests/guests/hello)
#                            under VT-x with EPT, and its report. With --cmdline the ISO carries
#                            the test guests hello, memwalk and probe, e.g.
#                            ./run-qemu.sh --single --cmdline "guest_kernel=probe guest_mem=16M"
# --engine auto (default): QEMU with KVM when the host offers nested VT-x; otherwise Bochs, which
# emulates VT-x with EPT. tcg: QEMU without KVM shows the boot path and tandem's refusal (no VMX).
# The pair always runs in Bochs (two emulated PCs joined by a hub and a client network).
set -euo pipefail
cd "$(dirname "$0")"
source tools/require-packages.sh

engine=auto cpu=corei7_skylake_x cmdline= custom_cmdline=0 timeout=120 single=0 pair_mode=checkpoint
[ $# -gt 0 ] && [ "$1" != --mode ] && single=1  # any other option asks for one machine
while [ $# -gt 0 ]; do
  case $1 in
    --mode) pair_mode=$2; shift 2 ;;
    --single) single=1; shift ;;
    --engine) engine=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --cmdline) cmdline=$2; custom_cmdline=1; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-qemu.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case $pair_mode in checkpoint|lockstep) ;; *) echo "run-qemu.sh: --mode must be checkpoint or lockstep" >&2; exit 2 ;; esac
case $engine in auto|kvm|bochs|tcg) ;; *) echo "run-qemu.sh: --engine must be auto, kvm, bochs or tcg" >&2; exit 2 ;; esac

require_packages "${TANDEM_BUILD_PACKAGES[@]}" "${TANDEM_RUN_PACKAGES[@]}"

build=${TANDEM_BUILD:-build}
[ -f "$build/build.ninja" ] || cmake -S . -B "$build" -G Ninja >/dev/null

if [ "$single" = 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "run-qemu.sh: the protected-pair demo needs root: its client network is a network namespace."
    echo "run-qemu.sh: showing one machine instead (run as root for the pair, or pass --single to skip this note)."
  else
    cmake --build "$build" --target tandem_image guest_counter >/dev/null
    export TANDEM_BUILD=$build
    exec env PYTHONPATH="$PWD/tools${PYTHONPATH:+:$PYTHONPATH}" python3 -m tandem_lab.cli.pair_demo --mode "$pair_mode"
  fi
fi
cmake --build "$build" --target tandem_iso >/dev/null
iso=$build/tandem.iso
if [ "$custom_cmdline" = 1 ]; then
  iso=$build/run/tandem.iso
  mkdir -p "$build/run"
  cmake --build "$build" --target guest_hello guest_memwalk guest_probe >/dev/null
  modules=()
  for guest in hello memwalk probe; do modules+=(--module "$build/guests/$guest.elf" "$guest"); done
  tools/mkiso.sh --image "$build/tandem.elf" --out "$iso" "--cmdline=$cmdline" --timeout 0 "${modules[@]}"
fi

# Nested VT-x through KVM: the host CPU must be Intel with VMX and /dev/kvm usable.
kvm_reason=
if [ ! -w /dev/kvm ]; then
  kvm_reason="/dev/kvm is missing or not writable"
elif ! grep -qw vmx /proc/cpuinfo; then
  kvm_reason="the host CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')) shows no VT-x (vmx flag) to this machine"
fi
if [ "$engine" = auto ]; then
  if [ -z "$kvm_reason" ]; then
    engine=kvm
  else
    echo "run-qemu.sh: no KVM with nested VT-x here: $kvm_reason."
    echo "run-qemu.sh: booting the same ISO under Bochs, which emulates VT-x with EPT ($cpu)."
    engine=bochs
  fi
elif [ "$engine" = kvm ] && [ -n "$kvm_reason" ]; then
  echo "run-qemu.sh: --engine kvm needs KVM with nested VT-x, but $kvm_reason." >&2
  exit 1
fi

case $engine in
  kvm) emu=qemu-kvm ;;
  tcg) emu=qemu-tcg; echo "run-qemu.sh: QEMU without KVM has no VMX: expect tandem to refuse clearly." ;;
  bochs) emu=bochs ;;
esac
exec env PYTHONPATH="$PWD/tools${PYTHONPATH:+:$PYTHONPATH}" python3 -m tandem_lab.cli.emulator "$emu" --iso "$iso" --cpu "$cpu" \
  --timeout "$timeout" --workdir "$build/run/$emu"
