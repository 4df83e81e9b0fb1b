#!/usr/bin/env bash
# The default Linux guest on hostvisor's emu engine, on this host (no /dev/kvm needed, no carrier):
# (a) every check of tests/integration/linux_boot_checks.sh with ENGINE=emu (boot, hv.run,
#     hv.run-status, cpus, hwclock, dmesg, reboot-no-reboot, reboot, input), and
# (b) the emu checks of tests/integration/linux_emu_checks.sh in one more boot with --cpus 2
#     (smp-boot, smp-cpus, smp-parallel, sha256sum, iperf3, date, dmesg-cpu).
#
#   BUILD=build tests/integration/linux_emu.sh
#
# Prints "PASS: linux-emu/<check>", "FAIL: linux-emu/<check>: reason" or "SKIPPED: linux-emu/<check>
# (reason)" for every check exactly once, and the time it all took. Exit status 1 when a check
# failed or was not reported. Bounds: LINUX_EMU_BOOT_TIMEOUT seconds per boot (default 300) and
# EMU_LINUX_TIMEOUT seconds for the whole run (default 2400; 8 boots); part (b) keeps one boot's
# worth of it. Logs: $BUILD/test-logs/linux-emu-*.{log,stderr}.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

BUILD=${BUILD:-build}
export BUILD
HV=$BUILD/hostvisor
TAG=linux_emu
PREFIX=linux-emu
TOTAL=${EMU_LINUX_TIMEOUT:-2400}
export LINUX_EMU_BOOT_TIMEOUT=${LINUX_EMU_BOOT_TIMEOUT:-300}
# Seconds a checks file may run past its deadline: the last boot's SIGTERM, waits and logs.
GRACE=45
BOOT_CHECKS=(boot hv.run hv.run-status cpus hwclock dmesg reboot-no-reboot reboot input)
EMU_CHECKS=(smp-boot smp-cpus smp-parallel sha256sum iperf3 date dmesg-cpu)

OUT=$(mktemp "${TMPDIR:-/tmp}/$TAG-out.XXXXXX") || exit 2
trap 'rm -f "$OUT"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

all_checks() { printf '%s\n' "${BOOT_CHECKS[@]}" "${EMU_CHECKS[@]}"; }

# Every check SKIPPED, loudly: also on stderr, so that a skip is not mistaken for a pass.
skip_all() { # reason
	local check
	echo "$TAG: SKIPPING all $(all_checks | wc -l) checks: $1" >&2
	for check in $(all_checks); do
		echo "SKIPPED: $PREFIX/$check ($1)"
	done
	exit 0
}

fail_all() { # reason
	local check
	for check in $(all_checks); do
		echo "FAIL: $PREFIX/$check: $1"
	done
	exit 1
}

# True when OUT has a result line for CHECK.
reported() { # check
	local line
	while IFS= read -r line; do
		case $line in
		"PASS: $PREFIX/$1" | "PASS: $PREFIX/$1 "* | "FAIL: $PREFIX/$1:"* | "SKIPPED: $PREFIX/$1 "*) return 0 ;;
		esac
	done <"$OUT"
	return 1
}

# Runs checks FILE until DEADLINE (seconds since the epoch; the file bounds its boots by it, and
# `timeout` is the backstop) with its output on stdout and in OUT; reports a FAIL for each of
# CHECKS... it did not report. Returns the file's exit status.
run_part() { # file deadline environment-assignment check...
	local file=$1 deadline=$2 assign=$3 rc check bound
	shift 3
	bound=$((deadline - $(date +%s) + GRACE))
	[ "$bound" -ge $((GRACE + 1)) ] || bound=$((GRACE + 1))
	env "$assign" LINUX_CHECKS_DEADLINE="$deadline" \
		timeout -k 10 "$bound" bash "$file" 2>&1 | tee -a "$OUT"
	rc=${PIPESTATUS[0]}
	for check in "$@"; do
		reported "$check" && continue
		case $rc in
		124 | 137) echo "FAIL: $PREFIX/$check: not reported; $file was stopped after $bound s (EMU_LINUX_TIMEOUT=$TOTAL)" ;;
		*) echo "FAIL: $PREFIX/$check: not reported; $file exited $rc" ;;
		esac
	done | tee -a "$OUT"
	return "$rc"
}

main() {
	local start=$SECONDS file now end reserve ok=0
	for file in vmlinuz vmlinux initrd.img; do
		[ -f "$BUILD/guest/$file" ] ||
			skip_all "no $BUILD/guest/$file; build it with make guest (guest/build.sh $BUILD/guest)"
	done
	[ -x "$HV" ] || fail_all "$HV is not built"
	command -v python3 >/dev/null || fail_all "the checks need python3"

	now=$(date +%s)
	end=$((now + TOTAL))
	# Part (b) is one boot: keep that much of the whole run for it.
	reserve=$((LINUX_EMU_BOOT_TIMEOUT + GRACE))
	[ "$reserve" -le $((TOTAL / 2)) ] || reserve=$((TOTAL / 2))
	echo "$TAG: up to $TOTAL s in all (EMU_LINUX_TIMEOUT), $LINUX_EMU_BOOT_TIMEOUT s a boot (LINUX_EMU_BOOT_TIMEOUT)"
	run_part tests/integration/linux_boot_checks.sh $((end - reserve - GRACE)) ENGINE=emu \
		"${BOOT_CHECKS[@]}" || ok=1
	run_part tests/integration/linux_emu_checks.sh $((end - GRACE)) ENGINE=emu \
		"${EMU_CHECKS[@]}" || ok=1
	echo "$TAG: $((SECONDS - start)) s in all, run directly with --engine emu"
	[ $ok -eq 0 ] && ! grep -q '^FAIL: ' "$OUT"
}

main "$@"
