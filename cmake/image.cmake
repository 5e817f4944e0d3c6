# The freestanding image, tandem.elf (64-bit ELF, multiboot 2 and 1 headers), and
# tandem32.elf, the same image as an elf32-i386 container for QEMU's -kernel (which refuses
# 64-bit ELF files). Flags are scoped to these targets only.
#
# The target triple is x86_64-linux-gnu only so that clang finds libstdc++'s header-only parts
# (type_traits, span, array, optional, bit, ...); -ffreestanding -nostdlib keep the C library and
# the C++ runtime out. The image is identity-mapped and linked at 2 MiB, so -mcmodel=small
# (all symbols below 2 GiB) is exact.

set(TANDEM_IMAGE_COMPILE_FLAGS
  --target=x86_64-linux-gnu
  -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-stack-protector
  -fno-asynchronous-unwind-tables -fno-unwind-tables
  -mno-red-zone -mno-sse -mno-sse2 -mno-mmx -mno-avx -mcmodel=small -fno-pic -fno-pie
  -ffunction-sections -fdata-sections -O2 -g)

set(TANDEM_LINKER_SCRIPT ${CMAKE_SOURCE_DIR}/arch-x86_64/boot/linker.ld)

add_executable(tandem_image ${TANDEM_IMAGE_SOURCES} ${TANDEM_PORTABLE_SOURCES})
set_target_properties(tandem_image PROPERTIES OUTPUT_NAME tandem.elf SUFFIX "" LINK_DEPENDS ${TANDEM_LINKER_SCRIPT})
target_include_directories(tandem_image PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_definitions(tandem_image PRIVATE TANDEM_VERSION="${PROJECT_VERSION}" TANDEM_IMAGE=1)
target_compile_options(tandem_image PRIVATE
  ${TANDEM_IMAGE_COMPILE_FLAGS}
  $<$<COMPILE_LANGUAGE:CXX>:${TANDEM_WARNINGS}>)
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
