# Boot media built from the image: the GRUB hybrid ISO (CD, USB stick, UEFI) and the PXE tree.
# TANDEM_CMDLINE is the command line baked into both (README: "Command line"); the guest the
# media carry is TANDEM_DEMO_GUEST, one of the test guests (tests/guests), as a GRUB module.
set(TANDEM_DEMO_GUEST hello CACHE STRING "test guest carried by the built ISO and PXE tree")
set(TANDEM_CMDLINE "guest_kernel=${TANDEM_DEMO_GUEST} guest_mem=32M" CACHE STRING
    "tandem command line written into the ISO's and PXE tree's grub.cfg")
set(TANDEM_GRUB_TIMEOUT 3 CACHE STRING "GRUB menu timeout in seconds for the built media")

set(demo_guest_file ${CMAKE_BINARY_DIR}/guests/${TANDEM_DEMO_GUEST}.elf)
foreach(kind iso pxe)
  if(kind STREQUAL "iso")
    set(out ${CMAKE_BINARY_DIR}/tandem.iso)
    set(tool ${CMAKE_SOURCE_DIR}/tools/mkiso.sh)
    set(what "tandem.iso: GRUB hybrid ISO (BIOS + UEFI when available)")
  else()
    set(out ${CMAKE_BINARY_DIR}/pxe)
    set(tool ${CMAKE_SOURCE_DIR}/tools/mkpxe.sh)
    set(what "pxe/: GRUB network boot tree (boot file boot/grub/i386-pc/core.0)")
  endif()
  set(stamp ${CMAKE_BINARY_DIR}/${kind}.stamp)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${tool} --image $<TARGET_FILE:tandem_image> --out ${out} "--cmdline=${TANDEM_CMDLINE}"
            --timeout ${TANDEM_GRUB_TIMEOUT} --module ${demo_guest_file} ${TANDEM_DEMO_GUEST}
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    DEPENDS tandem_image guest_${TANDEM_DEMO_GUEST} ${tool} ${CMAKE_SOURCE_DIR}/tools/grub-entry.sh
    VERBATIM
    COMMENT "${what}")
  add_custom_target(tandem_${kind} ALL DEPENDS ${stamp})
endforeach()
