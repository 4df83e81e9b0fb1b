#!/usr/bin/env bash
# Checks the carrier (tests/carrier/run.sh): output streaming, exit status, writes into the
# repository, the time limit, and real KVM inside it booting the default guest. Prints
# "PASS: name" / "FAIL: name" lines and the measured times.
#
# usage: tests/carrier/check.sh
set -uo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
RUN=$REPO/tests/carrier/run.sh
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
WORK=$(mktemp -d "${TMPDIR:-/tmp}/carrier-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

failures=0
result() { # status name
	if [ "$1" -eq 0 ]; then echo "PASS: $2"; else echo "FAIL: $2"; failures=$((failures + 1)); fi
}

# 1. Output, status, working directory, /dev/kvm, a write into the repository.
probe=$BUILD/carrier/probe.$$
start=$(date +%s%N)
"$RUN" --timeout 120 -- sh -c "echo out; echo err >&2; pwd; test -c /dev/kvm && echo kvm;
	echo written >'$probe'; exit 7" >"$WORK/out" 2>"$WORK/err"
status=$?
wall=$((($(date +%s%N) - start) / 1000000))
result $((status != 7)) "carrier passes the command's exit status"
grep -qx out "$WORK/out" && grep -qx err "$WORK/out"
result $? "carrier streams stdout and stderr"
grep -qx "$REPO" "$WORK/out"
result $? "carrier runs the command in the repository"
grep -qx kvm "$WORK/out"
result $? "carrier has /dev/kvm"
[ "$(cat "$probe" 2>/dev/null)" = written ]
result $? "carrier writes into the repository"
rm -f "$probe"
echo "carrier: start to command exit $((wall / 1000)).$(printf %03d $((wall % 1000))) s wall" \
	"(ready at uptime $(sed -n 's/^CARRIER-READY //p' "$BUILD/carrier/last-console.log" |
		tr -d '\r') s)"

# 2. The time limit ends the carrier.
"$RUN" --timeout 3 -- sleep 100 >/dev/null 2>&1
result $(($? != 124)) "carrier stops at its time limit (status 124)"

# 3. Real KVM: QEMU with -enable-kvm boots the default guest inside the carrier.
cat >"$WORK/nested.sh" <<'EOF'
start=$(date +%s%N)
qemu-system-x86_64 -enable-kvm -cpu host -m 256 -nographic -no-reboot \
	-kernel "$1/vmlinux" -initrd "$1/initrd.img" \
	-append 'console=ttyS0 quiet hv.run="echo nested-ok"' </dev/null 2>&1 |
	while IFS= read -r line; do
		line=${line//$'\r'/}
		# The firmware's escape sequences may precede HV-BOOTED on its line.
		case $line in *HV-BOOTED*) line=HV-BOOTED${line##*HV-BOOTED} ;; esac
		case $line in
		HV-BOOTED* | nested-ok* | HV-EXIT*)
			ms=$((($(date +%s%N) - start) / 1000000))
			echo "$line @$((ms / 1000)).$(printf %03d $((ms % 1000)))"
			;;
		esac
	done
EOF
cp "$WORK/nested.sh" "$BUILD/carrier/nested.sh.$$"
"$RUN" --timeout 300 -- bash "$BUILD/carrier/nested.sh.$$" "$BUILD/guest" >"$WORK/nested" 2>&1
rm -f "$BUILD/carrier/nested.sh.$$"
grep -q '^nested-ok @' "$WORK/nested" && grep -q 'HV-EXIT 0 @' "$WORK/nested"
result $? "KVM inside the carrier boots the default guest"
sed -n 's/^\(HV-BOOTED [0-9.]*\) @\(.*\)/nested guest: \1 (uptime), \2 s after its QEMU started/p' \
	"$WORK/nested"

[ $failures -eq 0 ]
