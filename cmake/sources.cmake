# Source lists. "Portable" sources execute no privileged instruction: they are compiled into
# the image and, unchanged, into the host test library. "Image-only" sources touch hardware.

set(TANDEM_PORTABLE_SOURCES
  arch-x86_64/boot/boot_info.cpp
  arch-x86_64/boot/boot_report.cpp
  arch-x86_64/boot/multiboot1.cpp
  arch-x86_64/boot/multiboot2.cpp
  arch-x86_64/cpu/exception_report.cpp
  arch-x86_64/paging/host_address_space.cpp
  arch-x86_64/vmx/vmx_capabilities.cpp
  hypervisor/config/config.cpp
  hypervisor/console/console.cpp
  hypervisor/console/writer.cpp
  hypervisor/memory/frame_allocator.cpp
)

set(TANDEM_IMAGE_SOURCES
  arch-x86_64/boot/multiboot_header.S
  arch-x86_64/boot/start32.S
  arch-x86_64/boot/boot_main.cpp
  arch-x86_64/boot/build_id.cpp
  arch-x86_64/boot/selftest.cpp
  arch-x86_64/cpu/cpu_identity.cpp
  arch-x86_64/cpu/descriptor_tables.cpp
  arch-x86_64/cpu/exception_stubs.S
  arch-x86_64/cpu/halt.cpp
  arch-x86_64/paging/host_paging.cpp
  arch-x86_64/serial/uart16550.cpp
  arch-x86_64/vmx/capability_probe.cpp
  hypervisor/runtime/freestanding.cpp
)
