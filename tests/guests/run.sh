#!/usr/bin/env bash
# Runs the test guests (tests/guests/*.c, built into $BUILD/tests/guests/<name>.elf) under
# hostvisor's kvm engine (or its emu engine with --engine emu), or under QEMU with KVM for
# comparison, and prints one line per check: "PASS: guests/<check>", "FAIL: guests/<check>:
# reason" or "SKIPPED: guests/<name> (reason)" (guests-emu/ under the emu engine).
#
#   tests/guests/run.sh [--vmm hostvisor|qemu] [--engine kvm|emu] [--timeout SECONDS] [GUEST...]
#
# Each guest reports its own checks over COM1 ("PASS <check>" / "FAIL <check>: reason"), then
# powers off through ACPI; this script adds: the guest finished (DONE line), the VMM exited 0
# (the power-off worked), the RTC agrees with the host's UTC clock within 2 s, and the UART's
# test lines arrived whole. Serial logs go to $BUILD/test-logs/guests-<vmm>-<name>.log.
set -uo pipefail
cd "$(dirname "$0")/../.."

BUILD=${BUILD:-build}
VMM=hostvisor
ENGINE=kvm
TIMEOUT=${GUEST_TIMEOUT:-180}
ALL_GUESTS=(uart rtc pci pit acpi exits)
guests=()

while [ $# -gt 0 ]; do
	case $1 in
	--vmm) VMM=$2; shift 2 ;;
	--engine) ENGINE=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	-h | --help) sed -n '2,12p' "$0"; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) guests+=("$1"); shift ;;
	esac
done
[ ${#guests[@]} -gt 0 ] || guests=("${ALL_GUESTS[@]}")
case $VMM in
hostvisor | qemu) ;;
*) echo "run.sh: --vmm is hostvisor or qemu" >&2; exit 2 ;;
esac
case $ENGINE in
kvm) P=guests ;;
emu) P=guests-emu ;;
*) echo "run.sh: --engine is kvm or emu" >&2; exit 2 ;;
esac

LOGDIR=$BUILD/test-logs
mkdir -p "$LOGDIR"

# Command-line options per guest: the exits guest runs short here, it is a benchmark elsewhere.
guest_append() {
	case $1 in
	exits) echo "iters=2000" ;;
	*) echo "" ;;
	esac
}

kvm_usable() {
	[ -c /dev/kvm ] && { exec 3<>/dev/kvm; } 2>/dev/null && exec 3>&-
}

# Prefixes every serial line with the host's UTC time of arrival (seconds), for the RTC check.
timestamp_lines() {
	local line
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%(%s)T %s\n' -1 "${line%$'\r'}"
	done
}

run_vm() { # elf append log errlog
	local elf=$1 append=$2 log=$3 errlog=$4
	if [ "$VMM" = qemu ]; then
		timeout "$TIMEOUT" qemu-system-x86_64 -enable-kvm -m 64 -display none -vga none \
			-net none -monitor none -serial stdio -no-reboot \
			-kernel "$elf" -append "$append" </dev/null 2>"$errlog" | timestamp_lines >"$log"
	else
		timeout "$TIMEOUT" "$BUILD/hostvisor" run --engine "$ENGINE" --kernel "$elf" \
			--append "$append" --mem 64M --serial stdio --no-reboot \
			</dev/null 2>"$errlog" | timestamp_lines >"$log"
	fi
	return "${PIPESTATUS[0]}"
}

# The guest's own PASS/FAIL lines, renamed into the runner's form.
report_guest_lines() { # log
	sed -n -e 's/^[0-9]* PASS \([^ ]*\)$/PASS: '"$P"'\/\1/p' \
		-e 's/^[0-9]* FAIL \([^:]*\): \(.*\)$/FAIL: '"$P"'\/\1: \2/p' "$1"
}

check_rtc_time() { # log
	local line arrived date guest diff
	line=$(grep -m1 -E '^[0-9]+ RTC [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$' "$1")
	if [ -z "$line" ]; then
		echo "FAIL: $P/rtc.hosttime: no RTC line"
		return
	fi
	arrived=${line%% *}
	date=${line#* RTC }
	guest=$(date -u -d "$date" +%s 2>/dev/null) || guest=0
	diff=$((guest - arrived))
	if [ ${diff#-} -le 2 ]; then
		echo "PASS: $P/rtc.hosttime (guest $date UTC, ${diff} s from the host)"
	else
		echo "FAIL: $P/rtc.hosttime: guest $date, host $(date -u -d "@$arrived" '+%F %T'), ${diff} s apart"
	fi
}

check_uart_lines() { # log
	local src=tests/guests/uart.c missing=0 lines=0 want
	while IFS= read -r want; do
		lines=$((lines + 1))
		grep -qxF -- "$want" <(cut -d' ' -f2- "$1") || missing=$((missing + 1))
	done < <(sed -n 's/^[[:space:]]*"\(UART line [0-9]:.*\)",$/\1/p' "$src" | sed 's/\\"/"/g; s/\\\\/\\/g')
	if [ "$lines" -eq 0 ]; then
		echo "FAIL: $P/uart.lines: no test lines found in $src"
	elif [ "$missing" -eq 0 ]; then
		echo "PASS: $P/uart.lines ($lines lines)"
	else
		echo "FAIL: $P/uart.lines: $missing test lines did not arrive intact"
	fi
}

run_guest() { # name
	local name=$1 elf=$BUILD/tests/guests/$1.elf
	local log=$LOGDIR/$P-$VMM-$name.log errlog=$LOGDIR/$P-$VMM-$name.stderr rc
	if [ ! -f "$elf" ]; then
		echo "FAIL: $P/$name: $elf not built"
		return
	fi
	local t0=$SECONDS
	run_vm "$elf" "$(guest_append "$name")" "$log" "$errlog"
	rc=$?
	echo "-- $name under $VMM ($ENGINE): exit $rc after $((SECONDS - t0)) s, log $log"
	report_guest_lines "$log"
	if grep -q "^[0-9]* DONE $name " "$log"; then
		echo "PASS: $P/$name.done"
	else
		echo "FAIL: $P/$name.done: the guest did not finish (exit $rc); last output:"
		tail -5 "$log" | cut -d' ' -f2- | sed 's/^/    /'
		tail -5 "$errlog" | sed 's/^/    stderr: /'
	fi
	if [ "$rc" -eq 0 ]; then
		echo "PASS: $P/$name.poweroff"
	elif [ "$rc" -eq 124 ]; then
		echo "FAIL: $P/$name.poweroff: timed out after $TIMEOUT s"
	else
		echo "FAIL: $P/$name.poweroff: $VMM exited $rc"
		tail -3 "$errlog" | sed 's/^/    stderr: /'
	fi
	case $name in
	rtc) check_rtc_time "$log" ;;
	uart) check_uart_lines "$log" ;;
	esac
}

if [ "$ENGINE" = kvm ] && ! kvm_usable; then
	echo "!!! /dev/kvm is missing or not usable: the kvm-engine guest tests are SKIPPED !!!" >&2
	for name in "${guests[@]}"; do
		echo "SKIPPED: $P/$name (no /dev/kvm)"
	done
	exit 0
fi
if [ "$VMM" = hostvisor ] && [ ! -x "$BUILD/hostvisor" ]; then
	for name in "${guests[@]}"; do
		echo "FAIL: $P/$name: $BUILD/hostvisor not built"
	done
	exit 1
fi
if [ "$VMM" = qemu ] && ! command -v qemu-system-x86_64 >/dev/null; then
	for name in "${guests[@]}"; do
		echo "SKIPPED: $P/$name (no qemu-system-x86_64)"
	done
	exit 0
fi

for name in "${guests[@]}"; do
	run_guest "$name"
done
