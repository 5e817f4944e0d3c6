# Sourced by run-qemu.sh and run-tests.sh: makes sure the Debian packages a command needs are
# installed. As root, missing ones are installed with apt-get; otherwise the exact list and the
# command that installs it are printed and the caller stops.

# Building the image, its boot media and the host tests.
TANDEM_BUILD_PACKAGES=(cmake ninja-build clang lld llvm libclang-rt-14-dev doctest-dev python3
                       grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools)
# tools/extract_vmlinux decompresses a bzImage's payload (gzip, xz, lzma, zstd).
TANDEM_BUILD_PACKAGES+=(liblzma-dev zlib1g-dev libzstd-dev)
# Running it: Bochs (VT-x with EPT), QEMU (boot paths; KVM where the host has nested VT-x).
TANDEM_RUN_PACKAGES=(bochs bochsbios vgabios bochs-term qemu-system-x86 ipxe-qemu ovmf bsdutils coreutils)
# The protected-pair demo and tests: a client network in a namespace (ip netns, bridge, taps).
TANDEM_RUN_PACKAGES+=(iproute2)
# tools/tandemctl: the serial console's command tool (serial lines, pseudo-terminals, TCP consoles).
TANDEM_RUN_PACKAGES+=(python3-serial)
# Only the tests need these.
TANDEM_TEST_PACKAGES=(libsodium-dev)
# tools/test_extract_vmlinux.py: zstd compresses the zstd payloads it feeds extract_vmlinux.
TANDEM_TEST_PACKAGES+=(zstd)
# tests/unit/test_guest_acpi.cpp: ACPICA's iasl and acpiexec are the oracle for the guest's ACPI tables.
TANDEM_TEST_PACKAGES+=(acpica-tools)
# tests/e2e/test_linux_bochs.py: the HTTP client of the Linux guest's test.
TANDEM_TEST_PACKAGES+=(curl)
# The console's JSON against its schema: nlohmann's parser in the unit tests, jsonschema in tandemctl's tests.
TANDEM_TEST_PACKAGES+=(nlohmann-json3-dev python3-jsonschema)
# tests/guests/linux/fetch_assets.sh: the static counter service and the initramfs builder.
TANDEM_LINUX_GUEST_PACKAGES=(gcc libc6-dev python3 xz-utils)

require_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
      missing+=("$pkg")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "Missing Debian packages: ${missing[*]}" >&2
    echo "Install them with:  sudo apt-get install ${missing[*]}   (or run this command as root)" >&2
    exit 1
  fi
  echo "Installing missing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/tandem-apt.log 2>&1; then
    apt-get update -q >>/tmp/tandem-apt.log 2>&1 || true
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/tandem-apt.log 2>&1; then
      tail -20 /tmp/tandem-apt.log >&2
      echo "apt-get could not install: ${missing[*]} (full log: /tmp/tandem-apt.log)" >&2
      exit 1
    fi
  fi
}
