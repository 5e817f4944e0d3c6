# Code generation for the freestanding image (every layer's image objects use these).
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
