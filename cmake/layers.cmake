# The layers of tandem as CMake libraries, so that the dependency rule (DESIGN §2, ARCHITECTURE.md)
# is enforced by the build: a layer's sources see only the folders it may use.
#
#   hypervisor                      the portable core
#   nic-drivers, guest-boot         use hypervisor
#   replication                     uses hypervisor and nic-drivers' narrow interface
#   arch-x86_64                     uses every layer; the image is arch-x86_64's boot code
#
# Each layer compiles against an include "view": a directory in the build tree holding a
# symbolic link to each top-level folder the layer may include, and nothing else. An include of
# any other folder (e.g. replication/ including an arch-x86_64/ header) is "file not found";
# tests/layering proves it. Every layer is built twice: as object files with the image's
# freestanding flags, and as a host library with the sanitizers for the unit tests.

set(TANDEM_VIEWS ${CMAKE_BINARY_DIR}/layer-views)
set_property(GLOBAL PROPERTY TANDEM_PORTABLE_SOURCES "")
set_property(GLOBAL PROPERTY TANDEM_IMAGE_OBJECTS "")
set_property(GLOBAL PROPERTY TANDEM_HOST_LAYERS "")

# tandem_layer(NAME SEES folder... SOURCES file... [IMAGE_SOURCES file...] [USES layer...])
#   SEES           the top-level folders this layer's code may include (its own among them)
#   SOURCES        portable sources (image and host), relative to the calling folder
#   IMAGE_SOURCES  sources built into the image only (they execute privileged instructions)
#   USES           the layers it links against on the host
function(tandem_layer name)
  cmake_parse_arguments(ARG "" "" "SEES;SOURCES;IMAGE_SOURCES;USES" ${ARGN})
  set(view ${TANDEM_VIEWS}/${name})
  file(REMOVE_RECURSE ${view})
  file(MAKE_DIRECTORY ${view})
  foreach(folder IN LISTS ARG_SEES)
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${folder} ${view}/${folder} SYMBOLIC)
  endforeach()
  list(TRANSFORM ARG_SOURCES PREPEND "${CMAKE_CURRENT_SOURCE_DIR}/" OUTPUT_VARIABLE sources)
  list(TRANSFORM ARG_IMAGE_SOURCES PREPEND "${CMAKE_CURRENT_SOURCE_DIR}/" OUTPUT_VARIABLE image_sources)
  set_property(GLOBAL APPEND PROPERTY TANDEM_PORTABLE_SOURCES ${sources})

  # The image's objects: freestanding flags, this layer's view.
  add_library(tandem_${name}_image OBJECT ${sources} ${image_sources})
  target_include_directories(tandem_${name}_image PRIVATE ${view})
  target_compile_definitions(tandem_${name}_image PRIVATE TANDEM_VERSION="${PROJECT_VERSION}" TANDEM_IMAGE=1)
  target_compile_options(tandem_${name}_image PRIVATE ${TANDEM_IMAGE_COMPILE_FLAGS}
                         $<$<COMPILE_LANGUAGE:CXX>:${TANDEM_WARNINGS}>)
  set_property(GLOBAL APPEND PROPERTY TANDEM_IMAGE_OBJECTS $<TARGET_OBJECTS:tandem_${name}_image>)

  # The host library: sanitizers, the same view.
  if(sources)
    add_library(tandem_${name} STATIC ${sources})
    target_include_directories(tandem_${name} PUBLIC ${view})
    target_compile_definitions(tandem_${name} PUBLIC TANDEM_HOST=1)
    target_compile_options(tandem_${name} PUBLIC ${TANDEM_HOST_SANITIZE} PRIVATE ${TANDEM_WARNINGS})
    target_link_options(tandem_${name} PUBLIC ${TANDEM_HOST_SANITIZE})
    foreach(used IN LISTS ARG_USES)
      target_link_libraries(tandem_${name} PUBLIC tandem_${used})
    endforeach()
    set_property(GLOBAL APPEND PROPERTY TANDEM_HOST_LAYERS tandem_${name})
  endif()
endfunction()
