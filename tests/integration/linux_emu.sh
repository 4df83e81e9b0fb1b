#!/usr/bin/env bash
# The default Linux guest on hostvisor's emu engine, on this host (no /dev/kvm needed, no
# carrier): every check of tests/integration/linux_boot_checks.sh with ENGINE=emu (boot, hv.run,
# hv.run-status, cpus, hwclock, dmesg, reboot-no-reboot, reboot, input) and those of
# tests/integration/linux_emu_checks.sh (smp-parallel, sha256sum, iperf3, date, dmesg-cpu), in
# four boots of the ELF vmlinux through PVH (linux_boot_checks.sh says which check is where).
#
#   BUILD=build tests/integration/linux_emu.sh
#
# Prints "PASS: linux-emu/<check>", "FAIL: linux-emu/<check>: reason" or "SKIPPED: linux-emu/<check>
# (reason)" for every check exactly once, and the time it all took. Exit status 1 when a check
# failed or was not reported. Bounds: LINUX_EMU_BOOT_TIMEOUT seconds per boot (default 90 in
# linux_boot_checks.sh) and EMU_LINUX_TIMEOUT seconds for the whole run (default 330: the main
# boot, then the two boots of the reboot check beside the console boot, each at the per-boot
# bound, and the waits after them). Measured on an idle 2-core host: 22 s for the main boot,
# 27 s for the rest, 49 s in all.
# Logs: $BUILD/test-logs/linux-emu-*.{log,stderr}.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

BUILD=${BUILD:-build}
export BUILD
HV=$BUILD/hostvisor
TAG=linux_emu
PREFIX=linux-emu
INNER=tests/integration/linux_boot_checks.sh
TOTAL=${EMU_LINUX_TIMEOUT:-330}
# Seconds the checks may run past their deadline: the last SIGTERM, the waits and the logs.
GRACE=45
CHECKS=(boot hv.run hv.run-status cpus hwclock dmesg reboot-no-reboot reboot input
	smp-parallel sha256sum iperf3 date dmesg-cpu)

OUT=$(mktemp "${TMPDIR:-/tmp}/$TAG-out.XXXXXX") || exit 2
trap 'rm -f "$OUT"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# Every check SKIPPED, loudly: also on stderr, so that a skip is not mistaken for a pass.
skip_all() { # reason
	local check
	echo "$TAG: SKIPPING all ${#CHECKS[@]} checks: $1" >&2
	for check in "${CHECKS[@]}"; do
		echo "SKIPPED: $PREFIX/$check ($1)"
	done
	exit 0
}

fail_all() { # reason
	local check
	for check in "${CHECKS[@]}"; do
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

main() {
	local start=$SECONDS file rc check deadline
	# hostvisor takes vmlinux on emu; the checks never name a kernel.
	for file in vmlinux initrd.img; do
		[ -f "$BUILD/guest/$file" ] ||
			skip_all "no $BUILD/guest/$file; build it with make guest (guest/build.sh $BUILD/guest)"
	done
	[ -x "$HV" ] || fail_all "$HV is not built"
	command -v python3 >/dev/null || fail_all "the checks need python3"

	deadline=$(($(date +%s) + TOTAL - GRACE))
	echo "$TAG: up to $TOTAL s in all (EMU_LINUX_TIMEOUT)"
	# The checks bound every boot by the deadline; timeout is the backstop.
	ENGINE=emu LINUX_CHECKS_DEADLINE=$deadline timeout -k 10 "$TOTAL" bash "$INNER" 2>&1 |
		tee "$OUT"
	rc=${PIPESTATUS[0]}
	for check in "${CHECKS[@]}"; do
		reported "$check" && continue
		case $rc in
		124 | 137) echo "FAIL: $PREFIX/$check: not reported; $INNER was stopped after $TOTAL s (EMU_LINUX_TIMEOUT)" ;;
		*) echo "FAIL: $PREFIX/$check: not reported; $INNER exited $rc" ;;
		esac
	done | tee -a "$OUT"
	echo "$TAG: $((SECONDS - start)) s in all, run directly with --engine emu"
	[ "$rc" -eq 0 ] && ! grep -q '^FAIL: ' "$OUT"
}

main "$@"
