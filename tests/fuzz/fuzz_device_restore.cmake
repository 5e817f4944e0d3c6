# The device models' state restore (fuzz_device_restore.cpp), included from CMakeLists.txt after
# the libFuzzer check. Seeds are genuine saved states written by a host program from the models.
add_executable(fuzz_device_seeds fuzz_device_seeds.cpp)
target_link_libraries(fuzz_device_seeds PRIVATE tandem_portable)
target_compile_options(fuzz_device_seeds PRIVATE ${TANDEM_WARNINGS})
add_custom_command(
  OUTPUT ${FUZZ_SEEDS}/device_restore/stamp
  COMMAND fuzz_device_seeds ${FUZZ_SEEDS}/device_restore
  COMMAND ${CMAKE_COMMAND} -E touch ${FUZZ_SEEDS}/device_restore/stamp
  DEPENDS fuzz_device_seeds
  COMMENT "Fuzz seed corpus of device model states")
add_custom_target(fuzz_device_seed_corpus ALL DEPENDS ${FUZZ_SEEDS}/device_restore/stamp)
add_executable(fuzz_device_restore fuzz_device_restore.cpp)
target_link_libraries(fuzz_device_restore PRIVATE tandem_portable_fuzz)
target_compile_options(fuzz_device_restore PRIVATE -fsanitize=fuzzer ${TANDEM_WARNINGS})
target_link_options(fuzz_device_restore PRIVATE -fsanitize=fuzzer ${TANDEM_FUZZ_FLAGS})
add_dependencies(fuzz_device_restore fuzz_device_seed_corpus)
add_test(NAME fuzz.device_restore
         COMMAND ${CMAKE_COMMAND} -DFUZZER=$<TARGET_FILE:fuzz_device_restore>
                 -DSEEDS=${FUZZ_SEEDS}/device_restore -DWORK=${CMAKE_CURRENT_BINARY_DIR}/work/device_restore
                 -DSECONDS=${FUZZ_SECONDS} -P ${CMAKE_CURRENT_SOURCE_DIR}/run_fuzzer.cmake)
set_tests_properties(fuzz.device_restore PROPERTIES TIMEOUT 120 LABELS fuzz)
