# Host side: the layers' host libraries (cmake/layers.cmake) with sanitizers, the doctest unit
# tests, the libFuzzer targets and host tools. CTest runs the unit tests, the fuzzers
# (time-bounded), the layering check and the emulator end-to-end tests.
include(CTest)

# Tests and tools see the whole tree: tandem_portable is every layer's host library.
get_property(host_layers GLOBAL PROPERTY TANDEM_HOST_LAYERS)
add_library(tandem_portable INTERFACE)
target_include_directories(tandem_portable INTERFACE ${CMAKE_SOURCE_DIR})
target_link_libraries(tandem_portable INTERFACE ${host_layers})
get_property(TANDEM_PORTABLE_SOURCES GLOBAL PROPERTY TANDEM_PORTABLE_SOURCES)

add_subdirectory(tests)
add_subdirectory(tools)
