#!/usr/bin/env bash
# Builds a GRUB hybrid ISO that boots tandem: BIOS (El Torito and, written raw to a USB stick or
# disk, MBR), plus UEFI when grub-efi-amd64-bin is installed.
#   tools/mkiso.sh --image tandem.elf --out tandem.iso [--cmdline "key=value ..."] [--timeout S]
#                  [--module FILE NAME]...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/grub-entry.sh"

image= out= cmdline= timeout=3
modules=()
while [ $# -gt 0 ]; do
  case $1 in
    --image) image=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --cmdline) cmdline=$2; shift 2 ;;
    --cmdline=*) cmdline=${1#--cmdline=}; shift ;;
    --timeout) timeout=$2; shift 2 ;;
    --module) modules+=("$2" "$3"); shift 3 ;;
    -h|--help) sed -n "2,/^set -euo/p" "$0" | grep "^#" | sed "s/^# \{0,1\}//"; exit 0 ;;
    *) echo "mkiso.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$image" ] && [ -n "$out" ] || { echo "mkiso.sh: --image and --out are required" >&2; exit 2; }
[ -f "$image" ] || { echo "mkiso.sh: image '$image' not found" >&2; exit 2; }
for tool in grub-mkrescue xorriso; do
  command -v "$tool" >/dev/null || { echo "mkiso.sh: '$tool' is missing (Debian packages grub-common, grub-pc-bin, xorriso)" >&2; exit 2; }
done
[ -d /usr/lib/grub/i386-pc ] || { echo "mkiso.sh: /usr/lib/grub/i386-pc is missing (Debian package grub-pc-bin)" >&2; exit 2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/boot/grub" "$stage/boot/modules"
cp "$image" "$stage/boot/tandem.elf"
names=()
for ((i = 0; i < ${#modules[@]}; i += 2)); do
  file=${modules[i]} name=${modules[i+1]}
  [ -f "$file" ] || { echo "mkiso.sh: module file '$file' not found" >&2; exit 2; }
  cp "$file" "$stage/boot/modules/$name"
  names+=("$name")
done
write_grub_cfg "$stage/boot/grub/grub.cfg" "$timeout" "$cmdline" "${names[@]}"

# Without -d, grub-mkrescue includes every GRUB platform installed: i386-pc (BIOS) always,
# x86_64-efi (UEFI) when grub-efi-amd64-bin and mtools are present.
if [ -d /usr/lib/grub/x86_64-efi ] && ! command -v mformat >/dev/null; then
  echo "mkiso.sh: note: mtools is missing, so the ISO will not boot on UEFI" >&2
fi
log=$(mktemp)
if ! grub-mkrescue -o "$out" "$stage" --locales= --fonts= --themes= >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"
  echo "mkiso.sh: grub-mkrescue failed" >&2
  exit 1
fi
rm -f "$log"
