# The freestanding image, tandem.elf (64-bit ELF, multiboot 2 and 1 headers), linked from every
# layer's image objects (cmake/layers.cmake), and tandem32.elf, the same image as an elf32-i386
# container for QEMU's -kernel (which refuses 64-bit ELF files).
set(TANDEM_LINKER_SCRIPT ${CMAKE_SOURCE_DIR}/arch-x86_64/boot/linker.ld)

get_property(image_objects GLOBAL PROPERTY TANDEM_IMAGE_OBJECTS)
add_executable(tandem_image ${image_objects})
set_target_properties(tandem_image PROPERTIES OUTPUT_NAME tandem.elf SUFFIX "" LINKER_LANGUAGE CXX
                      LINK_DEPENDS ${TANDEM_LINKER_SCRIPT})
target_link_options(tandem_image PRIVATE
  --target=x86_64-linux-gnu -fuse-ld=lld -nostdlib -static -Wl,--no-pie
  -Wl,-T,${TANDEM_LINKER_SCRIPT} -Wl,--build-id=sha1 -Wl,--gc-sections -Wl,-z,max-page-size=4096
  -Wl,--no-undefined)

find_program(LLVM_OBJCOPY NAMES llvm-objcopy llvm-objcopy-14 REQUIRED)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/tandem32.elf
  COMMAND ${LLVM_OBJCOPY} -I elf64-x86-64 -O elf32-i386 $<TARGET_FILE:tandem_image> ${CMAKE_BINARY_DIR}/tandem32.elf
  DEPENDS tandem_image
  COMMENT "tandem32.elf: the image in an elf32-i386 container for qemu -kernel")
add_custom_target(tandem_image32 ALL DEPENDS ${CMAKE_BINARY_DIR}/tandem32.elf)
