#!/usr/bin/env bash
# The nightly-style fuzzing run: every libFuzzer target for a long time, one after the other, each
# growing a corpus that is kept between runs (unlike CTest's short runs, which start from the
# seeds every time), then a table of executions, executions per second and corpus size per target.
#
#   tests/fuzz/run_long.sh [SECONDS_PER_TARGET] [TARGET...]      (default 600 s, every target)
#
# Needs a configured and built tree ($TANDEM_BUILD, default build/): it reads the list of fuzzers
# that tests/fuzz/CMakeLists.txt writes (build/tests/fuzz/fuzzers.tsv). Corpora are kept in
# build/fuzz-corpus/<target> (not committed); each run's log and any crash, leak, timeout or
# out-of-memory reproducer go to build/fuzz-long/<target>/. Exits non-zero when a target failed,
# naming its reproducers.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${TANDEM_BUILD:-build}
seconds=${1:-600}
[ $# -gt 0 ] && shift
manifest="$build/tests/fuzz/fuzzers.tsv"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: tests/fuzz/run_long.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi
if [ ! -s "$manifest" ]; then
  echo "run_long: no $manifest: configure and build first (cmake -S . -B $build -G Ninja && cmake --build $build)" >&2
  exit 1
fi

declare -A wanted=()
for t in "$@"; do wanted[$t]=1; done

rows=()
failed=()
ran=0
while IFS=$'\t' read -r name exe seeds; do
  [ -n "$name" ] || continue
  if [ ${#wanted[@]} -gt 0 ] && [ -z "${wanted[$name]:-}" ]; then continue; fi
  if [ ! -x "$exe" ] || [ ! -d "$seeds" ]; then
    echo "run_long: $name is not built ($exe, seeds $seeds): build first" >&2
    exit 1
  fi
  corpus="$build/fuzz-corpus/$name"
  work="$build/fuzz-long/$name"
  mkdir -p "$corpus" "$work"
  before=$(find "$corpus" -type f | wc -l)
  echo "run_long: $name for ${seconds} s (corpus $corpus: $before inputs)"
  rc=0
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
         -artifact_prefix="$work/" "$corpus" "$seeds" >"$work/log" 2>&1 || rc=$?
  ran=$((ran + 1))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  per_s=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  after=$(find "$corpus" -type f | wc -l)
  cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
  status=ok
  if [ "$rc" -ne 0 ]; then
    status="FAILED ($rc)"
    failed+=("$name: $(ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | tr '\n' ' ')(log $work/log)")
  fi
  rows+=("$(printf '| %-18s | %13s | %9s | %6s | %5s -> %-6s | %s |' "$name" "${execs:-?}" "${per_s:-?}" "${cov:-?}" \
             "$before" "$after" "$status")")
done <"$manifest"

if [ "$ran" -eq 0 ]; then
  echo "run_long: no fuzzer matched: $*" >&2
  exit 1
fi
echo
echo "fuzzing, ${seconds} s per target, $(date -u +%Y-%m-%d), $(nproc) cores:"
echo "| target             |    executions |   execs/s |  edges | corpus          | result |"
echo "|--------------------|---------------|-----------|--------|-----------------|--------|"
printf '%s\n' "${rows[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo
  printf 'run_long: failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
