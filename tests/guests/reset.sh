#!/usr/bin/env bash
# Guest resets under hostvisor's kvm engine, with the reset guest (tests/guests/reset.c, built into
# $BUILD/tests/guests/reset.elf). Prints one line per check: "PASS: guests/reset-<check>",
# "FAIL: guests/reset-<check>: reason" or "SKIPPED: guests/reset-<check> (reason)".
#
#   BUILD=build tests/guests/reset.sh [--timeout SECONDS]
#
# cycle:  without --no-reboot the guest resets by the keyboard controller, port 0xcf9 and a
#         triple fault, one per boot, counting in CMOS RAM (which a reset keeps); expected: the
#         lines "RESET stage 0" .. "RESET stage 3" in order, "PASS reset" (RAM was cleared on
#         every reboot), and exit status 0 after the final ACPI power-off.
# kbc, cf9, triple: method=<m> --no-reboot: one reset, then hostvisor exits 0 with exactly the
#         line "hostvisor: guest reset; exiting (--no-reboot)" on stderr.
# Logs go to $BUILD/test-logs/reset-<check>.log (serial) and .stderr. Exit status 1 on a FAIL.
set -uo pipefail
ENGINE=${ENGINE:-kvm} # kvm or emu (then the checks are named guests-emu/...)
P=guests
[ "$ENGINE" = emu ] && P=guests-emu
cd "$(dirname "$0")/../.." || exit 2

BUILD=${BUILD:-build}
TIMEOUT=${GUEST_TIMEOUT:-60}
NO_REBOOT_LINE='hostvisor: guest reset; exiting (--no-reboot)'
METHODS=(kbc cf9 triple)
CHECKS=(cycle "${METHODS[@]}")

while [ $# -gt 0 ]; do
	case $1 in
	--timeout) TIMEOUT=$2; shift 2 ;;
	-h | --help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "reset.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

ELF=$BUILD/tests/guests/reset.elf
LOGDIR=$BUILD/test-logs

kvm_usable() {
	[ -c /dev/kvm ] && { exec 3<>/dev/kvm; } 2>/dev/null && exec 3>&-
}

run_hostvisor() { # log errlog hostvisor-options...
	local log=$1 errlog=$2
	shift 2
	timeout "$TIMEOUT" "$BUILD/hostvisor" run --engine "$ENGINE" --kernel "$ELF" --mem 64M \
		--serial stdio "$@" </dev/null 2>"$errlog" | tr -d '\r' >"$log"
	return "${PIPESTATUS[0]}"
}

# The exit status as a check: 0 passes, 124 is the timeout.
check_status() { # check rc errlog
	local check=$1 rc=$2 errlog=$3
	if [ "$rc" -eq 0 ]; then
		echo "PASS: $P/reset-$check.exit"
	elif [ "$rc" -eq 124 ]; then
		echo "FAIL: $P/reset-$check.exit: timed out after $TIMEOUT s"
	else
		echo "FAIL: $P/reset-$check.exit: hostvisor exited $rc"
		tail -3 "$errlog" | sed 's/^/    stderr: /'
	fi
}

# The guest's own FAIL lines, if any, renamed into the runner's form.
report_guest_failures() { # check log
	sed -n "s/^FAIL \([^:]*\): \(.*\)$/FAIL: $P\/reset-$1: guest: \1: \2/p" "$2"
}

show_tail() { # log errlog
	tail -5 "$1" | sed 's/^/    serial: /'
	tail -3 "$2" | sed 's/^/    stderr: /'
}

check_cycle() {
	local log=$LOGDIR/$P-reset-cycle.log errlog=$LOGDIR/$P-reset-cycle.stderr rc stages boots
	local t0=$SECONDS
	run_hostvisor "$log" "$errlog"
	rc=$?
	echo "-- cycle: exit $rc after $((SECONDS - t0)) s, log $log"
	stages=$(sed -n 's/^RESET stage \([0-9]*\)$/\1/p' "$log" | tr '\n' ' ')
	stages=${stages% }
	boots=$(grep -c '^hostvisor test guest reset, ' "$log")
	if [ "$stages" = "0 1 2 3" ] && [ "$boots" -eq 4 ]; then
		echo "PASS: $P/reset-cycle.stages (kbc, cf9, triple fault: 4 boots, CMOS kept)"
	elif [ "$(grep -c '^RESET stage 0$' "$log")" -gt 1 ]; then
		echo "FAIL: $P/reset-cycle.stages: stage 0 came back (the CMOS RAM was lost?): $stages"
	else
		echo "FAIL: $P/reset-cycle.stages: stages \"$stages\" in $boots boots, want \"0 1 2 3\" in 4"
		show_tail "$log" "$errlog"
	fi
	if grep -qx 'PASS reset' "$log"; then
		echo "PASS: $P/reset-cycle.ramclear"
	else
		echo "FAIL: $P/reset-cycle.ramclear: no \"PASS reset\" line"
	fi
	report_guest_failures cycle "$log"
	check_status cycle "$rc" "$errlog"
	if grep -qF -- "$NO_REBOOT_LINE" "$errlog"; then
		echo "FAIL: $P/reset-cycle.reboot: hostvisor said --no-reboot without the option"
	fi
}

check_method() { # method
	local m=$1 log=$LOGDIR/$P-reset-$1.log errlog=$LOGDIR/$P-reset-$1.stderr rc got
	local t0=$SECONDS
	run_hostvisor "$log" "$errlog" --append "method=$m" --no-reboot
	rc=$?
	echo "-- $m: exit $rc after $((SECONDS - t0)) s, log $log"
	if ! grep -qx "RESET method $m" "$log"; then
		echo "FAIL: $P/reset-$m.guest: the guest did not reach its reset"
		show_tail "$log" "$errlog"
	elif grep -q '^FAIL ' "$log" || grep -q '^hostvisor test guest reset, ' <(sed 1d "$log"); then
		echo "FAIL: $P/reset-$m.guest: the guest ran on after its reset"
		report_guest_failures "$m" "$log"
	else
		echo "PASS: $P/reset-$m.guest"
	fi
	check_status "$m" "$rc" "$errlog"
	got=$(cat "$errlog")
	if [ "$got" = "$NO_REBOOT_LINE" ]; then
		echo "PASS: $P/reset-$m.stderr"
	else
		echo "FAIL: $P/reset-$m.stderr: want exactly \"$NO_REBOOT_LINE\", got:"
		head -5 "$errlog" | sed 's/^/    stderr: /'
	fi
}

if [ "$ENGINE" = kvm ] && ! kvm_usable; then
	echo "!!! /dev/kvm is missing or not usable: the kvm-engine reset tests are SKIPPED !!!" >&2
	for c in "${CHECKS[@]}"; do
		echo "SKIPPED: $P/reset-$c (no /dev/kvm)"
	done
	exit 0
fi
for f in "$BUILD/hostvisor" "$ELF"; do
	if [ ! -f "$f" ]; then
		for c in "${CHECKS[@]}"; do
			echo "FAIL: $P/reset-$c: $f not built"
		done
		exit 1
	fi
done
mkdir -p "$LOGDIR"

# Exit status 1 if any check failed.
{
	check_cycle
	for m in "${METHODS[@]}"; do
		check_method "$m"
	done
} | tee "$LOGDIR/$P-reset-summary.txt"
! grep -q '^FAIL:' "$LOGDIR/$P-reset-summary.txt"
