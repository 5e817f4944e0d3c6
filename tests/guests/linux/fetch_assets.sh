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
outputs=(bzImage vmlinux initramfs.cpio.gz kernel.config blob.sha256 ASSETS)

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

mkdir -p "$cache/debs"
unpack="$cache/.unpack"
rm -rf "$unpack"
mkdir -p "$unpack"
trap 'rm -rf "$unpack"' EXIT

# ---- the packages ------------------------------------------------------------------------------
find_deb() { find "$cache/debs" -maxdepth 1 -name "$1" | sort | tail -1; }
kernel_deb=$(find_deb 'linux-image-6.1.*-amd64_*.deb')
busybox_deb=$(find_deb 'busybox-static_*.deb')
if [ -z "$kernel_deb" ] || [ -z "$busybox_deb" ]; then
  refresh_lists() {
    [ "$(id -u)" -eq 0 ] || die "the apt package lists need an update: run as root"
    say "apt-get update"
    apt-get update -q >/dev/null || die "apt-get update failed"
  }
  apt-cache show linux-image-amd64 >/dev/null 2>&1 || refresh_lists
  # linux-image-amd64 is the metapackage; the kernel is the linux-image-6.1.*-amd64 it depends on.
  resolve() {
    apt-cache depends linux-image-amd64 | grep -oE 'linux-image-6\.1\.[0-9]+-[0-9]+-amd64' | head -1
  }
  kernel_pkg=$(resolve)
  [ -n "$kernel_pkg" ] || die "linux-image-amd64 depends on no linux-image-6.1.*-amd64 package: $(apt-cache depends linux-image-amd64 | tr '\n' ' ')"
  say "downloading $kernel_pkg and busybox-static"
  download() { (cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$kernel_pkg" busybox-static >/dev/null); }
  if ! download; then
    # Stale lists name a version the mirror no longer has (security updates replace kernels).
    refresh_lists
    kernel_pkg=$(resolve)
    download || die "apt-get download $kernel_pkg busybox-static failed"
  fi
  kernel_deb=$(find_deb "${kernel_pkg}_*.deb")
  busybox_deb=$(find_deb 'busybox-static_*.deb')
  [ -n "$kernel_deb" ] && [ -n "$busybox_deb" ] || die "the downloaded packages are not in $cache/debs"
fi
field() { dpkg-deb -f "$1" "$2"; }
say "unpacking $(field "$kernel_deb" Package) $(field "$kernel_deb" Version) and busybox-static $(field "$busybox_deb" Version)"
dpkg-deb -x "$kernel_deb" "$unpack/kernel"
dpkg-deb -x "$busybox_deb" "$unpack/busybox"
kvers=("$unpack"/kernel/lib/modules/*)
[ ${#kvers[@]} -eq 1 ] && [ -d "${kvers[0]}" ] || die "expected one module tree in $(basename "$kernel_deb")"
kver=$(basename "${kvers[0]}")
[ -f "$unpack/kernel/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver in $(basename "$kernel_deb")"
[ -x "$unpack/busybox/bin/busybox" ] || die "no /bin/busybox in $(basename "$busybox_deb")"
cp "$unpack/kernel/boot/vmlinuz-$kver" "$cache/bzImage.tmp" && mv "$cache/bzImage.tmp" "$cache/bzImage"
cp "$unpack/kernel/boot/config-$kver" "$cache/kernel.config.tmp" && mv "$cache/kernel.config.tmp" "$cache/kernel.config"

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
  echo "kernel configuration:"
  grep -E '^(# )?CONFIG_(KERNEL_(GZIP|XZ|ZSTD|LZMA)|VIRTIO|VIRTIO_RING|VIRTIO_MMIO|VIRTIO_MMIO_CMDLINE_DEVICES|VIRTIO_PCI|VIRTIO_NET|NET_FAILOVER|FAILOVER|RANDOMIZE_BASE|RELOCATABLE|PHYSICAL_START|PHYSICAL_ALIGN|X86_X2APIC|ACPI|PVH|MODULE_COMPRESS_[A-Z]+|RD_GZIP|DEVTMPFS|SERIAL_8250_CONSOLE)[= ]' \
    "$cache/kernel.config" | sed 's/^/  /'
} >"$cache/ASSETS"
echo "$inputs" >"$cache/.inputs"
cat "$cache/ASSETS"
