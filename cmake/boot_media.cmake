# Boot media built from the image: the GRUB hybrid ISO (CD, USB stick, UEFI) and the PXE tree.
# TANDEM_CMDLINE is the command line baked into both (README: "Command line").
set(TANDEM_CMDLINE "" CACHE STRING "tandem command line written into the ISO's and PXE tree's grub.cfg")
set(TANDEM_GRUB_TIMEOUT 3 CACHE STRING "GRUB menu timeout in seconds for the built media")

add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/tandem.iso
  COMMAND ${CMAKE_SOURCE_DIR}/tools/mkiso.sh --image $<TARGET_FILE:tandem_image>
          --out ${CMAKE_BINARY_DIR}/tandem.iso "--cmdline=${TANDEM_CMDLINE}" --timeout ${TANDEM_GRUB_TIMEOUT}
  DEPENDS tandem_image ${CMAKE_SOURCE_DIR}/tools/mkiso.sh ${CMAKE_SOURCE_DIR}/tools/grub-entry.sh
  VERBATIM
  COMMENT "tandem.iso: GRUB hybrid ISO (BIOS + UEFI when available)")
add_custom_target(tandem_iso ALL DEPENDS ${CMAKE_BINARY_DIR}/tandem.iso)

add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/pxe/boot/tandem.elf
  COMMAND ${CMAKE_SOURCE_DIR}/tools/mkpxe.sh --image $<TARGET_FILE:tandem_image>
          --out ${CMAKE_BINARY_DIR}/pxe "--cmdline=${TANDEM_CMDLINE}" --timeout ${TANDEM_GRUB_TIMEOUT}
  DEPENDS tandem_image ${CMAKE_SOURCE_DIR}/tools/mkpxe.sh ${CMAKE_SOURCE_DIR}/tools/grub-entry.sh
  VERBATIM
  COMMENT "pxe/: GRUB network boot tree (boot file boot/grub/i386-pc/core.0)")
add_custom_target(tandem_pxe ALL DEPENDS ${CMAKE_BINARY_DIR}/pxe/boot/tandem.elf)
