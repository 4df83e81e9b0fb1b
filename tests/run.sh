#!/usr/bin/env bash
# Runs every test and prints, as its last line, "N passed, N failed, N skipped".
#
# Units of counting: one cmocka test case, one fuzzer smoke run, one check of a test script.
# Test scripts report each check on its own line as "PASS: name", "FAIL: name" or
# "SKIPPED: name (reason)"; a script that exits non-zero without a FAIL line counts as one failure.
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
SANBUILD=${SANBUILD:-build/san}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
LOGDIR=$BUILD/test-logs
mkdir -p "$LOGDIR"

passed=0 failed=0 skipped=0
failures=()

record() { # result name
  case $1 in
    PASS) passed=$((passed + 1)) ;;
    FAIL) failed=$((failed + 1)); failures+=("$2") ;;
    SKIP) skipped=$((skipped + 1)) ;;
  esac
}

# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)" per binary.
run_unit() {
  local exe=$1 name log
  name=$(basename "$exe")
  log=$LOGDIR/$name.log
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    timeout 300 "$exe" >"$log" 2>&1
  local rc=$? p f
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  p=${p:-0} f=${f:-0}
  passed=$((passed + p))
  if [ "$f" -gt 0 ] || { [ $rc -ne 0 ] && [ "$f" -eq 0 ]; }; then
    [ "$f" -gt 0 ] || f=1
    failed=$((failed + f))
    failures+=("$name (see $log)")
    echo "FAIL: unit $name"
    tail -20 "$log"
  else
    echo "PASS: unit $name ($p cases)"
  fi
}

run_fuzz() {
  local exe=$1 name corpus log
  name=$(basename "$exe")
  log=$LOGDIR/$name.log
  corpus=$LOGDIR/corpus-$name
  mkdir -p "$corpus"
  # Checked-in seeds (tests/fuzz/seeds/<device>/) start the search from valid inputs.
  local seeds=tests/fuzz/seeds/${name%_fuzz}
  [ -d "$seeds" ] || seeds=
  if timeout $((FUZZ_SECONDS + 60)) "$exe" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$LOGDIR/$name-" "$corpus" $seeds >"$log" 2>&1; then
    echo "PASS: fuzz $name ($(grep -o 'Done [0-9]* runs' "$log" | tail -1))"
    record PASS "$name"
  else
    echo "FAIL: fuzz $name"
    tail -30 "$log"
    record FAIL "fuzz $name (see $log)"
  fi
}

run_script() {
  local script=$1 name log rc
  name=${script#tests/}
  log=$LOGDIR/$(echo "$name" | tr '/' '_').log
  echo "== $name"
  BUILD=$BUILD "$script" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local np nf ns
  np=$(grep -c '^PASS: ' "$log")
  nf=$(grep -c '^FAIL: ' "$log")
  ns=$(grep -c '^SKIPPED: ' "$log")
  passed=$((passed + np)) skipped=$((skipped + ns))
  if [ "$nf" -gt 0 ]; then
    failed=$((failed + nf))
    while read -r line; do failures+=("$name: ${line#FAIL: }"); done < <(grep '^FAIL: ' "$log")
  elif [ $rc -ne 0 ]; then
    record FAIL "$name exited $rc"
  fi
}

echo "== unit tests (ASan+UBSan)"
for exe in "$SANBUILD"/*_test; do
  [ -x "$exe" ] && run_unit "$exe"
done

echo "== fuzz smoke, ${FUZZ_SECONDS}s each (ASan+UBSan)"
for exe in "$SANBUILD"/*_fuzz "$SANBUILD"/tests/*/*_fuzz; do
  [ -x "$exe" ] && run_fuzz "$exe"
done

for script in tests/cli/*.sh tests/cpu/*.sh tests/guests/*.sh guest/test.sh \
  tests/carrier/check.sh tests/integration/*.sh; do
  [ -x "$script" ] && run_script "$script"
done

if [ ${#failures[@]} -gt 0 ]; then
  echo "failures:"
  printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
