#!/usr/bin/env bash
# Runs every test: builds the image, ISO, PXE tree, host unit tests, fuzzers and tools with
# warnings as errors, then runs unit tests, fuzzers (time-bounded) and the emulator end-to-end
# tests through CTest, two at a time. Extra arguments go to ctest (e.g. -R e2e, -L unit).
set -euo pipefail
cd "$(dirname "$0")"
source tools/require-packages.sh
require_packages "${TANDEM_BUILD_PACKAGES[@]}" "${TANDEM_RUN_PACKAGES[@]}" "${TANDEM_TEST_PACKAGES[@]}"

build=${TANDEM_BUILD:-build}
cmake -S . -B "$build" -G Ninja -DTANDEM_WERROR=ON >/dev/null
cmake --build "$build"
start=$(date +%s)
# --no-tests=error: a selection (-L, -R, ...) that matches no test fails instead of passing.
ctest --test-dir "$build" --output-on-failure --no-tests=error -j2 "$@"
echo "all tests passed in $(( $(date +%s) - start )) s"
