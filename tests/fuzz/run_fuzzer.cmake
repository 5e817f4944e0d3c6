# Runs one libFuzzer target for a bounded time from a fresh working corpus plus the seeds:
#   cmake -DFUZZER=<exe> -DSEEDS=<dir> -DWORK=<dir> -DSECONDS=<n> -DSEED=<n> -P run_fuzzer.cmake
# New inputs go to WORK/corpus (recreated each run, so the seed directory stays as generated);
# a crash leaves its input in WORK/ as crash-<hash>, which the failure message names.
foreach(var FUZZER SEEDS WORK SECONDS SEED)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_fuzzer.cmake: ${var} is not set")
  endif()
endforeach()
if(NOT IS_DIRECTORY "${SEEDS}")
  message(FATAL_ERROR "run_fuzzer.cmake: no seed corpus at ${SEEDS} (build the fuzz_seeds target)")
endif()
file(REMOVE_RECURSE "${WORK}/corpus")
file(MAKE_DIRECTORY "${WORK}/corpus")
execute_process(
  COMMAND "${FUZZER}" -max_total_time=${SECONDS} -seed=${SEED} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          -artifact_prefix=${WORK}/ "${WORK}/corpus" "${SEEDS}"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  file(GLOB artifacts "${WORK}/crash-*" "${WORK}/leak-*" "${WORK}/timeout-*" "${WORK}/oom-*")
  message(FATAL_ERROR "${FUZZER} failed (${result}); reproducer(s): ${artifacts}")
endif()
