#!/bin/sh
# CPU conformance: the emu engine against the host CPU (tests/cpu/*conformance.c).
# Usage: tests/cpu/run.sh [build-dir] [seed] [random-cases-per-class]
here=$(dirname "$0")
build=${1:-${BUILD:-$here/../../build}}
exe=$build/tests/cpu/cpu_conformance
if [ ! -x "$exe" ]; then
	echo "FAIL: cpu/build ($exe not built)"
	exit 1
fi
[ $# -gt 0 ] && shift
status=0
for prog in "$exe" "$build"/tests/cpu/compat32_conformance "$build"/tests/cpu/x87_conformance; do
	if [ ! -x "$prog" ]; then
		echo "FAIL: cpu/build ($prog not built)"
		status=1
		continue
	fi
	"$prog" "$@" || status=1
done
exit $status
