#!/usr/bin/env bash
# The emu-specific Linux guest checks of tests/integration/linux_emu.sh, which runs this file on
# the host with the emu engine (no /dev/kvm needed). Not executable on purpose: tests/run.sh runs
# every executable tests/integration/*.sh, and this file must go through linux_emu.sh.
#
#   BUILD=build bash tests/integration/linux_emu_checks.sh
#
# One boot of the default guest ($BUILD/guest, /init = guest/init) with --engine emu --cpus 2
# --no-reboot, whose hv.run command does all the work, and one line per check, "PASS:
# linux-emu/<check>" or "FAIL: linux-emu/<check>: <reason>":
#   smp-boot       HV-BOOTED, the command's output, HV-EXIT 0, hostvisor exits 0
#   smp-cpus       nproc and /proc/cpuinfo say 2
#   smp-parallel   two busy loops in the background for 4 s of guest time: in /proc/stat both
#                  CPUs were busy for at least half of that window (so both ran a loop)
#   sha256sum      busybox sha256sum of 16 MiB made in the guest (yes PATTERN | head -c) equals
#                  the host's sha256sum of the same bytes made here
#   iperf3         iperf3 over the guest's loopback for 2 s reports a receiver bitrate
#   date           the guest's `date +%s` is within 2 s of the host clock when the line arrived
#   dmesg-cpu      the dmesg (read at the end) has no warning from the CPU, timer or APIC code
# When the boot fails every check FAILs with the reason and the tail of the serial log and of
# hostvisor's stderr. The boot is bounded by LINUX_EMU_BOOT_TIMEOUT seconds (default 300) and by
# LINUX_CHECKS_DEADLINE (seconds since the epoch) when set. The serial output and stderr go to
# $BUILD/test-logs/linux-emu-smp.{log,stderr}.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

BUILD=${BUILD:-build}
HV=$BUILD/hostvisor
LOGDIR=$BUILD/test-logs
PREFIX=linux-emu
BOOT_TIMEOUT=${LINUX_EMU_BOOT_TIMEOUT:-300}
DEADLINE=${LINUX_CHECKS_DEADLINE:-}
CPUS=2
SHA_PATTERN=hostvisor-emu-sha256
SHA_BYTES=16777216
LOOP_SECONDS=4
DATE_SLACK=2
CHECKS=(smp-boot smp-cpus smp-parallel sha256sum iperf3 date dmesg-cpu)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/linux-emu-checks.XXXXXX") || exit 2

cleanup() {
	if mkdir -p "$LOGDIR" 2>/dev/null; then
		local f
		for f in "$WORK"/*.log "$WORK"/*.stderr; do
			[ -f "$f" ] && cp "$f" "$LOGDIR/$PREFIX-${f##*/}"
		done
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

failures=0
pass() { # check [detail]
	echo "PASS: $PREFIX/$1${2:+ ($2)}"
}
fail() { # check reason
	echo "FAIL: $PREFIX/$1: $2"
	failures=$((failures + 1))
}

# Lines of a file on one line, for a FAIL message.
one_line() { # file count
	tail -"$2" "$1" 2>/dev/null | tr -d '\r' | tr '\n' '|' | sed 's/|$//; s/|/ | /g'
}

# The guest's command: no double quotes (hv.run="..." ends at the first one) and short enough for
# the kernel's 2048-byte command line. Every result line has a tag the checks below look for.
# shellcheck disable=SC2016 # expanded by the guest's shell
RUN='echo SMP-RUN-$((6*7)); echo NPROC $(nproc); echo CPUINFO $(grep -c ^processor /proc/cpuinfo);'
# Two loops that each spin until the guest's uptime reaches start + LOOP_SECONDS (bounded however
# fast or slow the CPU is), between two snapshots of the per-CPU times.
RUN+=' grep ^cpu[01] /proc/stat | sed s/^/STAT0\ /; read s _ </proc/uptime;'
# shellcheck disable=SC2016
RUN+=' e=$((${s%.*}+'$LOOP_SECONDS')); for j in 1 2; do (while :; do read u _ </proc/uptime;'
# shellcheck disable=SC2016
RUN+=' [ ${u%.*} -ge $e ] && break; done) & done; wait;'
# shellcheck disable=SC2016
RUN+=' grep ^cpu[01] /proc/stat | sed s/^/STAT1\ /; read u _ </proc/uptime; echo LOOPS $s $u;'
RUN+=" yes $SHA_PATTERN | head -c $SHA_BYTES >/dev/shm/d; sha256sum /dev/shm/d | sed s/^/SHA\\ /;"
RUN+=' rm -f /dev/shm/d; iperf3 -s -1 -D -B 127.0.0.1; for i in 1 2 3; do sleep 1;'
RUN+=' timeout 60 iperf3 -c 127.0.0.1 -t 2 -f m >/dev/shm/i 2>&1 && break; done;'
# shellcheck disable=SC2016
RUN+=' echo IPERF-BEGIN; cat /dev/shm/i; echo IPERF-END; echo DATE $(date +%s);'
RUN+=' echo DMESG-BEGIN; dmesg; echo DMESG-END'

# Prefixes each line with the host clock when it arrived (seconds since the epoch).
STAMP_PY='
import sys, time
for raw in sys.stdin.buffer:
    line = raw.rstrip(b"\r\n").replace(b"\r", b"").decode("utf-8", "replace")
    sys.stdout.write("%.3f %s\n" % (time.time(), line))
    sys.stdout.flush()
'

LIMIT=$BOOT_TIMEOUT
RC=
boot() {
	local start=$SECONDS left
	if [ -n "$DEADLINE" ]; then
		left=$((DEADLINE - $(date +%s)))
		[ "$left" -lt "$LIMIT" ] && LIMIT=$left
		[ "$LIMIT" -ge 1 ] || LIMIT=1
	fi
	timeout -k 5 "$LIMIT" "$HV" run --engine emu --cpus "$CPUS" --no-reboot \
		--append "hv.run=\"$RUN\"" </dev/null 2>"$WORK/smp.stderr" |
		python3 -c "$STAMP_PY" >"$WORK/smp.log"
	RC=${PIPESTATUS[0]}
	echo "-- smp: $(status_text) after $((SECONDS - start)) s"
	cut -d' ' -f2- "$WORK/smp.log" >"$WORK/serial"
}

status_text() {
	case $RC in
	124 | 137) echo "timed out after $LIMIT s" ;;
	*) echo "hostvisor exited $RC" ;;
	esac
}

# Why the boot did not get to the end of the command, with the tails of the logs.
boot_failure() {
	echo "$(status_text); serial tail: $(one_line "$WORK/serial" 4); stderr tail: $(one_line "$WORK/smp.stderr" 3)"
}

# The lines between BEGIN-TAG and END-TAG of the serial output (none when END-TAG is missing).
section() { # tag
	grep -qx "$1-END" "$WORK/serial" || return 0
	sed -n "/^$1-BEGIN\$/,/^$1-END\$/p" "$WORK/serial" | sed '1d; $d'
}

check_boot() {
	local out=$WORK/serial
	if ! grep -q 'HV-BOOTED [0-9]' "$out"; then
		fail smp-boot "no HV-BOOTED line; $(boot_failure)"
	elif ! grep -qx 'SMP-RUN-42' "$out"; then
		fail smp-boot "booted but the command's output (SMP-RUN-42) is missing; $(boot_failure)"
	elif ! grep -qx 'HV-EXIT 0' "$out"; then
		fail smp-boot "no 'HV-EXIT 0' (got: $(grep -o 'HV-EXIT.*' "$out" | head -1)); $(boot_failure)"
	elif [ "$RC" -ne 0 ]; then
		fail smp-boot "$(status_text) after HV-EXIT 0; stderr tail: $(one_line "$WORK/smp.stderr" 3)"
	else
		pass smp-boot "$(grep -o 'HV-BOOTED [0-9.]*' "$out" | head -1) s uptime, HV-EXIT 0, exit 0"
	fi
}

# A check whose tag is missing: the reason is the boot's, when it did not finish.
missing() { # check what
	if grep -qx 'HV-EXIT 0' "$WORK/serial" && [ "$RC" -eq 0 ]; then
		fail "$1" "no $2 in the guest's output"
	else
		fail "$1" "no $2 in the guest's output; $(boot_failure)"
	fi
}

check_cpus() {
	local nproc cpuinfo
	nproc=$(sed -n 's/^NPROC \([0-9]*\)$/\1/p' "$WORK/serial" | head -1)
	cpuinfo=$(sed -n 's/^CPUINFO \([0-9]*\)$/\1/p' "$WORK/serial" | head -1)
	if [ -z "$nproc" ] && [ -z "$cpuinfo" ]; then
		missing smp-cpus "NPROC/CPUINFO lines"
	elif [ "$nproc" != "$CPUS" ] || [ "$cpuinfo" != "$CPUS" ]; then
		fail smp-cpus "--cpus $CPUS: nproc says '${nproc:-nothing}', /proc/cpuinfo has '${cpuinfo:-nothing}' processors"
	else
		pass smp-cpus "nproc and /proc/cpuinfo say $CPUS"
	fi
}

# /proc/stat cpuN lines: user nice system idle iowait irq softirq steal... in clock ticks. Busy
# is everything but idle and iowait (guest and guest_nice, which user already counts, are left
# out); the share is busy over all ticks of that CPU in the window.
check_parallel() {
	local loops result
	loops=$(sed -n 's/^LOOPS \([0-9.]*\) \([0-9.]*\)$/\1 \2/p' "$WORK/serial" | head -1)
	if [ -z "$loops" ] || [ "$(grep -c '^STAT[01] cpu[01] ' "$WORK/serial")" -ne 4 ]; then
		missing smp-parallel "STAT0/STAT1 lines for cpu0 and cpu1 and a LOOPS line"
		return
	fi
	result=$(awk -v loops="$loops" '
		/^STAT[01] cpu[01] / {
			busy = 0; all = 0
			for (i = 3; i <= 10 && i <= NF; i++) { all += $i; if (i != 6 && i != 7) busy += $i }
			b[$1, $2] = busy; a[$1, $2] = all
		}
		END {
			ok = 1; text = ""
			for (c = 0; c < 2; c++) {
				cpu = "cpu" c
				db = b["STAT1", cpu] - b["STAT0", cpu]; da = a["STAT1", cpu] - a["STAT0", cpu]
				share = da > 0 ? db / da : 0
				if (share < 0.5) ok = 0
				text = text sprintf("%s%s busy %.0f%% of %d ticks", c ? ", " : "", cpu, share * 100, da)
			}
			split(loops, l, " ")
			printf "%d %s; loops ran %.2f s of guest time\n", ok, text, l[2] - l[1]
		}' "$WORK/serial")
	if [ "${result%% *}" = 1 ]; then
		pass smp-parallel "${result#* }"
	else
		fail smp-parallel "both CPUs should be busy at least 50% while the two loops run: ${result#* }"
	fi
}

check_sha256() {
	local guest host
	guest=$(sed -n 's/^SHA \([0-9a-f]\{64\}\) .*/\1/p' "$WORK/serial" | head -1)
	host=$(yes "$SHA_PATTERN" | head -c "$SHA_BYTES" | sha256sum | cut -d' ' -f1)
	if [ -z "$guest" ]; then
		missing sha256sum "SHA line"
	elif [ "$guest" != "$host" ]; then
		fail sha256sum "guest $guest, host $host for the same $SHA_BYTES bytes"
	else
		pass sha256sum "16 MiB: $guest"
	fi
}

check_iperf3() {
	local text rate
	text=$(section IPERF)
	if [ -z "$text" ]; then
		missing iperf3 "IPERF-BEGIN..IPERF-END section"
		return
	fi
	rate=$(grep -E 'receiver' <<<"$text" | grep -oE '[0-9.]+ [KMG]?bits/sec' | tail -1)
	if [ -n "$rate" ]; then
		pass iperf3 "2 s over 127.0.0.1: $rate at the receiver"
	else
		fail iperf3 "no receiver bitrate; iperf3 said: $(tail -3 <<<"$text" | tr '\n' '|' | sed 's/|$//; s/|/ | /g')"
	fi
}

check_date() {
	local line stamp guest diff
	line=$(grep -m1 -E '^[0-9.]+ DATE [0-9]+$' "$WORK/smp.log")
	if [ -z "$line" ]; then
		missing date "DATE line"
		return
	fi
	stamp=${line%% *}
	guest=${line##* }
	diff=$(awk -v a="$stamp" -v b="$guest" 'BEGIN { printf "%.3f", a - b }')
	# date +%s truncates: the host may be up to 1 s ahead of it on a clock that is right.
	if awk -v d="$diff" -v s="$DATE_SLACK" 'BEGIN { exit !(d >= -s && d <= s) }'; then
		pass date "guest $guest, host clock $diff s later"
	else
		fail date "guest date $guest is $diff s off the host clock at arrival (limit $DATE_SLACK s)"
	fi
}

# Warnings from the CPU, timer and APIC code; the kernel command line (which is hv.run's text)
# is left out.
dmesg_cpu_offending() { # dmesg-file
	grep -viE 'command line:' "$1" | grep -E \
		-e 'WARNING' \
		-e '([Aa][Pp][Ii][Cc]).*([Ee][Rr][Rr][Oo][Rr]|[Bb][Uu][Gg])' \
		-e '([Ee][Rr][Rr][Oo][Rr]|[Bb][Uu][Gg]).*([Aa][Pp][Ii][Cc])' \
		-e '[Tt][Ss][Cc].*[Uu]nstable' \
		-e '[Cc]locksource.*[Uu]nstable' \
		-e 'MSR access error|unchecked MSR|#UD|invalid opcode' \
		-e 'BUG:|Oops|Call Trace|general protection fault|Kernel panic' \
		-e 'rcu.*(stall|self-detected)'
}

check_dmesg() {
	local text offending
	text=$(section DMESG)
	if [ -z "$text" ]; then
		missing dmesg-cpu "DMESG-BEGIN..DMESG-END section"
		return
	fi
	printf '%s\n' "$text" >"$WORK/dmesg"
	offending=$(dmesg_cpu_offending "$WORK/dmesg")
	if [ -z "$offending" ]; then
		pass dmesg-cpu "$(wc -l <"$WORK/dmesg") lines, none from the CPU, timer or APIC code"
	else
		fail dmesg-cpu "$(wc -l <<<"$offending") offending line(s): $(head -5 <<<"$offending" |
			sed 's/^\[ *[0-9.]*\] //' | tr '\n' '|' | sed 's/|$//; s/|/ | /g')"
	fi
}

main() {
	local check
	if [ ! -x "$HV" ]; then
		for check in "${CHECKS[@]}"; do fail "$check" "$HV is not built"; done
		exit 1
	fi
	boot
	check_boot
	check_cpus
	check_parallel
	check_sha256
	check_iperf3
	check_date
	check_dmesg
	[ $failures -eq 0 ]
}

main "$@"
