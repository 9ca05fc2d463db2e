#!/usr/bin/env bash
# Builds every libFuzzer target of tests/fuzz/ with clang (coverage + ASan + UBSan over the
# libraries) and runs each for SECONDS seconds (default 60), one after the other.
#
# A target NAME is tests/fuzz/NAME_fuzz.cpp (registered in tests/fuzz/CMakeLists.txt); it starts
# from the committed corpus tests/fuzz/corpus/NAME/ (read only; new inputs go to
# build-fuzz/corpus/NAME/), uses tests/fuzz/NAME.dict when present and the libFuzzer flags in
# tests/fuzz/NAME.options (one line) when present, and exports the KEY=VALUE lines of
# tests/fuzz/NAME.env (sanitizer options) for that target only. A crash, hang (> 10 s for one input) or
# out-of-memory is written to build-fuzz/crashes/NAME/; copy it into tests/fuzz/corpus/NAME/
# once fixed, so that the replay test (ctest -L fuzz) keeps it fixed.
#
# Usage: scripts/fuzz.sh [SECONDS] [NAME...]     (extra libFuzzer flags: FUZZ_FLAGS="...")
# Prints one line per target: executions, executions per second, new corpus inputs, result.
# Exits non-zero when some target found a problem.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
build=build-fuzz
if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  targets=()
  for f in tests/fuzz/*_fuzz.cpp; do
    n=$(basename "$f" _fuzz.cpp)
    targets+=("$n")
  done
fi

bash scripts/install-deps.sh --no-torch >/dev/null
if ! command -v clang++ >/dev/null || ! dpkg-query -W libclang-rt-14-dev >/dev/null 2>&1; then
  echo "fuzz: installing clang and its libFuzzer runtime (Debian packages)" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev >/dev/null
fi
CC=clang CXX=clang++ cmake -S . -B "$build" -DMUFT_FUZZ=ON -DMUFT_BUILD_TESTS=OFF \
  -DMUFT_BUILD_APPS=OFF -DMUFT_WITH_TORCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_SKIP_INSTALL_RULES=ON >/dev/null
cmake --build "$build" -j2 --target "${targets[@]/#/fuzz_}"

summary=()
status=0
for n in "${targets[@]}"; do
  seeds="tests/fuzz/corpus/$n"
  work="$build/corpus/$n"
  crashes="$build/crashes/$n"
  log="$build/fuzz_$n.log"
  mkdir -p "$work" "$crashes"
  [[ -d "$seeds" ]] || { echo "fuzz: no seed corpus $seeds" >&2; exit 1; }
  flags=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
         -artifact_prefix="$crashes/")
  [[ -f "tests/fuzz/$n.dict" ]] && flags+=(-dict="tests/fuzz/$n.dict")
  if [[ -f "tests/fuzz/$n.options" ]]; then
    read -r -a extra < "tests/fuzz/$n.options"
    flags+=("${extra[@]}")
  fi
  # shellcheck disable=SC2206
  [[ -n "${FUZZ_FLAGS:-}" ]] && flags+=($FUZZ_FLAGS)
  echo "fuzz: running fuzz_$n for ${secs}s (log: $log)" >&2
  rc=0
  before=$(find "$work" -type f | wc -l)
  envs=()
  if [[ -f "tests/fuzz/$n.env" ]]; then
    while IFS= read -r line; do
      [[ -n "$line" && "$line" != \#* ]] && envs+=("${line//@SRC@/$PWD}")
    done < "tests/fuzz/$n.env"
  fi
  env "${envs[@]}" "$build/fuzz/fuzz_$n" "${flags[@]}" "$work" "$seeds" > "$log" 2>&1 || rc=$?
  after=$(find "$work" -type f | wc -l)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [[ $rc -eq 0 ]]; then
    result="no crash"
  else
    status=1
    result="FOUND A PROBLEM (exit $rc): $(grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*deadly signal|.*-timeout|.*out-of-memory)' "$log" || echo "see $log")"
    result+="; input in $crashes/"
  fi
  summary+=("$(printf '%-20s %12s execs %8s/s %6s new inputs  %s' "$n" "${execs:-?}" \
    "${rate:-?}" "$((after - before))" "$result")")
done
echo
echo "fuzz: ${secs}s per target on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
printf '%s\n' "${summary[@]}"
exit "$status"
