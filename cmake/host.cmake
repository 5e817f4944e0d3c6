# Host side: the portable sources as a library with sanitizers, the doctest unit tests, the
# libFuzzer targets and host tools. CTest runs the unit tests, the fuzzers (time-bounded) and
# the emulator end-to-end tests.
include(CTest)

set(TANDEM_HOST_SANITIZE)
if(TANDEM_SANITIZE)
  set(TANDEM_HOST_SANITIZE -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
endif()

add_library(tandem_portable STATIC ${TANDEM_PORTABLE_SOURCES})
target_include_directories(tandem_portable PUBLIC ${CMAKE_SOURCE_DIR})
target_compile_definitions(tandem_portable PUBLIC TANDEM_HOST=1)
target_compile_options(tandem_portable PUBLIC ${TANDEM_HOST_SANITIZE} PRIVATE ${TANDEM_WARNINGS})
target_link_options(tandem_portable PUBLIC ${TANDEM_HOST_SANITIZE})

add_subdirectory(tests)
add_subdirectory(tools)
