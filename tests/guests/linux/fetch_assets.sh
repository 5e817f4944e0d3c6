#!/usr/bin/env bash
# Fetches and builds the Linux test guest (DESIGN.md §1: a stock Debian kernel is the reference
# guest): Debian 12's kernel and busybox-static, downloaded with apt-get download (never installed),
# unpacked with dpkg-deb -x; the uncompressed vmlinux extracted with tools/extract_vmlinux; an
# initramfs (mkinitramfs.py) with busybox, the virtio network modules, /init, httpd's /www and the
# counter service (counter_service.c, built static).
#
#   tests/guests/linux/fetch_assets.sh [CACHE_DIR]        (default: build/guest-assets)
#
# CACHE_DIR then holds:
#   bzImage             the kernel as Debian ships it (/boot/vmlinuz-*)
#   vmlinux             its uncompressed ELF64 kernel, for the 64-bit entry without decompression
#   initramfs.cpio.gz   busybox, modules, /init, /www, counter_service
#   kernel.config       the kernel's configuration (/boot/config-*)
#   blob.sha256         sha256 of /www/blob.bin, for clients that fetch it
#   ASSETS              what was fetched and built: versions, sizes, sha256, relevant config
#   cloud/              a second kernel configuration (issue 18's matrix): Debian 12's cloud kernel
#                       (linux-image-cloud-amd64, for KVM/Xen/Hyper-V/cloud guests: most hardware
#                       drivers left out, NVMe and ext4 built in, LZ4-compressed)
#                       as cloud/bzImage, cloud/kernel.config and cloud/initramfs.cpio.gz (the same
#                       initramfs with the cloud kernel's modules); no vmlinux (extract_vmlinux
#                       reads no LZ4: tandem boots the bzImage, whose decompressor runs in the guest)
#   debs/               the downloaded packages
# Run as root on Debian 12 (missing build packages are installed, apt lists updated when needed).
# Idempotent: when every output is there and was built from the current inputs (this script,
# init, mkinitramfs.py, counter_service.c), it does nothing. The build directory for
# extract_vmlinux is $TANDEM_BUILD or build/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cache=$(realpath -m "${1:-$repo/build/guest-assets}")
build=$(realpath -m "${TANDEM_BUILD:-$repo/build}")
# What /init loads: the virtio-mmio transport and virtio-net (with what they depend on), and the
# virtio-pci transport should the VM offer its network card over PCI instead.
modules=(virtio virtio_ring virtio_mmio failover net_failover virtio_net virtio_pci)
outputs=(bzImage vmlinux initramfs.cpio.gz kernel.config blob.sha256 ASSETS cloud/bzImage cloud/kernel.config
         cloud/initramfs.cpio.gz)

say() { echo "fetch_assets: $*"; }
die() {
  echo "fetch_assets: error: $*" >&2
  exit 1
}

inputs=$( (cat "$here/fetch_assets.sh" "$here/init" "$here/mkinitramfs.py" "$here/counter_service.c"
           echo "${modules[*]}") | sha256sum | cut -d' ' -f1)
up_to_date=1
for f in "${outputs[@]}"; do [ -s "$cache/$f" ] || up_to_date=0; done
if [ $up_to_date = 1 ] && [ "$(cat "$cache/.inputs" 2>/dev/null)" = "$inputs" ]; then
  say "assets up to date in $cache ($(head -1 "$cache/ASSETS"))"
  exit 0
fi

. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || die "this fetches Debian 12 (bookworm) packages; this system is ${PRETTY_NAME:-unknown}"
source "$repo/tools/require-packages.sh"
require_packages "${TANDEM_LINUX_GUEST_PACKAGES[@]}"

mkdir -p "$cache/debs" "$cache/cloud"
unpack="$cache/.unpack"
rm -rf "$unpack"
mkdir -p "$unpack"
trap 'rm -rf "$unpack"' EXIT

# ---- the packages ------------------------------------------------------------------------------
find_deb() { find "$cache/debs" -maxdepth 1 -name "$1" | sort | tail -1; }
refresh_lists() {
  [ "$(id -u)" -eq 0 ] || die "the apt package lists need an update: run as root"
  say "apt-get update"
  apt-get update -q >/dev/null || die "apt-get update failed"
}
# Downloads packages into $cache/debs (never installs them).
apt_download() { (cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null); }
# The kernel package a metapackage depends on (linux-image-amd64 -> linux-image-6.1.0-N-amd64;
# linux-image-cloud-amd64 -> linux-image-6.1.0-N-cloud-amd64), downloaded once: prints its .deb.
# $1 the metapackage, $2 the flavour's suffix ("amd64", "cloud-amd64").
fetch_kernel() {
  local meta=$1 flavour=$2 deb pkg
  # (the generic flavour's name pattern also matches the cloud one's: the exact form is checked)
  deb=$(find "$cache/debs" -maxdepth 1 -name "linux-image-6.1.*-${flavour}_*.deb" |
        grep -E "/linux-image-6\.1\.[0-9]+-[0-9]+-${flavour}_[^/]*\.deb\$" | sort | tail -1 || true)
  if [ -n "$deb" ]; then echo "$deb"; return; fi
  apt-cache show "$meta" >/dev/null 2>&1 || refresh_lists >&2
  resolve() { apt-cache depends "$meta" | grep -oE "linux-image-6\.1\.[0-9]+-[0-9]+-$flavour" | head -1; }
  pkg=$(resolve)
  [ -n "$pkg" ] || die "$meta depends on no linux-image-6.1.*-$flavour package: $(apt-cache depends "$meta" | tr '\n' ' ')"
  say "downloading $pkg" >&2
  if ! apt_download "$pkg"; then
    # Stale lists name a version the mirror no longer has (security updates replace kernels).
    refresh_lists >&2
    pkg=$(resolve)
    apt_download "$pkg" || die "apt-get download $pkg failed"
  fi
  deb=$(find_deb "${pkg}_*.deb")
  [ -n "$deb" ] || die "the downloaded $pkg is not in $cache/debs"
  echo "$deb"
}
kernel_deb=$(fetch_kernel linux-image-amd64 amd64)
cloud_deb=$(fetch_kernel linux-image-cloud-amd64 cloud-amd64)
busybox_deb=$(find_deb 'busybox-static_*.deb')
if [ -z "$busybox_deb" ]; then
  say "downloading busybox-static"
  apt_download busybox-static || { refresh_lists; apt_download busybox-static; } || die "apt-get download busybox-static failed"
  busybox_deb=$(find_deb 'busybox-static_*.deb')
  [ -n "$busybox_deb" ] || die "the downloaded busybox-static is not in $cache/debs"
fi
field() { dpkg-deb -f "$1" "$2"; }
say "unpacking busybox-static $(field "$busybox_deb" Version)"
dpkg-deb -x "$busybox_deb" "$unpack/busybox"
[ -x "$unpack/busybox/bin/busybox" ] || die "no /bin/busybox in $(basename "$busybox_deb")"
# Unpacks a kernel package into $unpack/$2 and copies its bzImage and configuration into $3;
# prints its version (the module tree's name).
unpack_kernel() {
  local deb=$1 dir="$unpack/$2" out=$3 kvers kver
  say "unpacking $(field "$deb" Package) $(field "$deb" Version)" >&2
  dpkg-deb -x "$deb" "$dir"
  kvers=("$dir"/lib/modules/*)
  [ ${#kvers[@]} -eq 1 ] && [ -d "${kvers[0]}" ] || die "expected one module tree in $(basename "$deb")"
  kver=$(basename "${kvers[0]}")
  [ -f "$dir/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver in $(basename "$deb")"
  cp "$dir/boot/vmlinuz-$kver" "$out/bzImage.tmp" && mv "$out/bzImage.tmp" "$out/bzImage"
  cp "$dir/boot/config-$kver" "$out/kernel.config.tmp" && mv "$out/kernel.config.tmp" "$out/kernel.config"
  echo "$kver"
}
kver=$(unpack_kernel "$kernel_deb" kernel "$cache")
cloud_kver=$(unpack_kernel "$cloud_deb" cloud "$cache/cloud")

# ---- vmlinux -----------------------------------------------------------------------------------
tool="$build/tools/extract_vmlinux"
if [ ! -f "$build/CMakeCache.txt" ] || [ ! -x "$tool" ]; then
  require_packages "${TANDEM_BUILD_PACKAGES[@]}" "${TANDEM_TEST_PACKAGES[@]}"
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" -G Ninja -DTANDEM_WERROR=ON >/dev/null
fi
cmake --build "$build" --target extract_vmlinux >/dev/null || die "cannot build tools/extract_vmlinux in $build"
extract_line=$("$tool" "$cache/bzImage" "$cache/vmlinux") || die "extract_vmlinux failed"
say "${extract_line#extract_vmlinux: }"

# ---- the initramfs -----------------------------------------------------------------------------
gcc -static -Os -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -o "$unpack/counter_service" "$here/counter_service.c"
strip "$unpack/counter_service"
module_args=()
for m in "${modules[@]}"; do module_args+=(--module "$m"); done
python3 "$here/mkinitramfs.py" --out "$cache/initramfs.cpio.gz" --busybox "$unpack/busybox/bin/busybox" \
  --counter "$unpack/counter_service" --init "$here/init" --modules-dir "$unpack/kernel/lib/modules/$kver" \
  "${module_args[@]}" --blob-sha256-out "$cache/blob.sha256" --manifest-out "$unpack/manifest"
# The same initramfs for the cloud kernel, with its own modules (vermagic must match).
python3 "$here/mkinitramfs.py" --out "$cache/cloud/initramfs.cpio.gz" --busybox "$unpack/busybox/bin/busybox" \
  --counter "$unpack/counter_service" --init "$here/init" --modules-dir "$unpack/cloud/lib/modules/$cloud_kver" \
  "${module_args[@]}" --manifest-out "$unpack/cloud-manifest"

# ---- the summary -------------------------------------------------------------------------------
{
  echo "Linux $kver: $(field "$kernel_deb" Package) $(field "$kernel_deb" Version), busybox-static $(field "$busybox_deb" Version)"
  echo "extract_vmlinux: ${extract_line#extract_vmlinux: }"
  for f in bzImage vmlinux initramfs.cpio.gz; do
    printf '%-18s %10d bytes  sha256 %s\n' "$f" "$(stat -c %s "$cache/$f")" "$(sha256sum "$cache/$f" | cut -d' ' -f1)"
  done
  echo "www/blob.bin sha256 $(cut -d' ' -f1 "$cache/blob.sha256")"
  echo "initramfs modules (load order, size):"
  sed -n 's/^module \([^ ]*\) \([^ ]*\) \([0-9]*\)$/  \1 \2 \3/p' "$unpack/manifest"
  echo "second kernel configuration: Linux $cloud_kver: $(field "$cloud_deb" Package) $(field "$cloud_deb" Version)"
  for f in cloud/bzImage cloud/initramfs.cpio.gz; do
    printf '%-24s %10d bytes  sha256 %s\n' "$f" "$(stat -c %s "$cache/$f")" "$(sha256sum "$cache/$f" | cut -d' ' -f1)"
  done
  echo "kernel configuration (generic | cloud):"
  grep -E '^(# )?CONFIG_(KERNEL_(GZIP|XZ|ZSTD|LZMA)|VIRTIO|VIRTIO_RING|VIRTIO_MMIO|VIRTIO_MMIO_CMDLINE_DEVICES|VIRTIO_PCI|VIRTIO_NET|NET_FAILOVER|FAILOVER|RANDOMIZE_BASE|RELOCATABLE|PHYSICAL_START|PHYSICAL_ALIGN|X86_X2APIC|ACPI|PVH|MODULE_COMPRESS_[A-Z]+|RD_GZIP|DEVTMPFS|SERIAL_8250_CONSOLE)[= ]' \
    "$cache/kernel.config" | sed 's/^/  /'
  echo "cloud kernel configuration, where it differs in the above and in timer and paravirt options:"
  diff <(grep -E '^(# )?CONFIG_(KERNEL_[A-Z0-9]+|VIRTIO[A-Z_]*|X86_X2APIC|PVH|XEN|HYPERV|HZ_?[0-9]*|PREEMPT[A-Z_]*|NO_HZ[A-Z_]*|NR_CPUS|MODULE_COMPRESS_[A-Z]+)[= ]' "$cache/kernel.config" | sort) \
       <(grep -E '^(# )?CONFIG_(KERNEL_[A-Z0-9]+|VIRTIO[A-Z_]*|X86_X2APIC|PVH|XEN|HYPERV|HZ_?[0-9]*|PREEMPT[A-Z_]*|NO_HZ[A-Z_]*|NR_CPUS|MODULE_COMPRESS_[A-Z]+)[= ]' "$cache/cloud/kernel.config" | sort) |
    sed -n 's/^> /  /p' || true
} >"$cache/ASSETS"
echo "$inputs" >"$cache/.inputs"
cat "$cache/ASSETS"
