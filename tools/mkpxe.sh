#!/usr/bin/env bash
# Builds a PXE/TFTP tree that network-boots tandem through GRUB (grub-mknetdir):
#   DIR/boot/grub/i386-pc/core.0   the BIOS PXE boot file (DHCP "filename")
#   DIR/boot/grub/x86_64-efi/core.efi  the UEFI one, when grub-efi-amd64-bin is installed
#   DIR/boot/grub/grub.cfg, DIR/boot/tandem.elf, DIR/boot/modules/*
#   tools/mkpxe.sh --image tandem.elf --out DIR [--cmdline "..."] [--timeout S] [--module FILE NAME]...
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
    *) echo "mkpxe.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$image" ] && [ -n "$out" ] || { echo "mkpxe.sh: --image and --out are required" >&2; exit 2; }
[ -f "$image" ] || { echo "mkpxe.sh: image '$image' not found" >&2; exit 2; }
command -v grub-mknetdir >/dev/null || { echo "mkpxe.sh: 'grub-mknetdir' is missing (Debian package grub-common)" >&2; exit 2; }
[ -d /usr/lib/grub/i386-pc ] || { echo "mkpxe.sh: /usr/lib/grub/i386-pc is missing (Debian package grub-pc-bin)" >&2; exit 2; }

rm -rf "$out"
mkdir -p "$out/boot/modules"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
platforms=(i386-pc)
[ -d /usr/lib/grub/x86_64-efi ] && platforms+=(x86_64-efi)
for platform in "${platforms[@]}"; do
  if ! grub-mknetdir --net-directory="$out" --subdir=boot/grub -d "/usr/lib/grub/$platform" \
       --locales= --fonts= --themes= >"$log" 2>&1; then
    cat "$log" >&2
    echo "mkpxe.sh: grub-mknetdir failed for $platform" >&2
    exit 1
  fi
done
cp "$image" "$out/boot/tandem.elf"
names=()
for ((i = 0; i < ${#modules[@]}; i += 2)); do
  file=${modules[i]} name=${modules[i+1]}
  [ -f "$file" ] || { echo "mkpxe.sh: module file '$file' not found" >&2; exit 2; }
  cp "$file" "$out/boot/modules/$name"
  names+=("$name")
done
write_grub_cfg "$out/boot/grub/grub.cfg" "$timeout" "$cmdline" "${names[@]}"
