# shellcheck shell=bash
# The emu-specific Linux guest checks, sourced by tests/integration/linux_boot_checks.sh when
# ENGINE=emu (tests/integration/linux_emu.sh runs it so): EMU_RUN is a piece of the main boot's
# hv.run command (--cpus 2), emu_checks reads what it printed. Not executable on purpose:
# tests/run.sh runs every executable tests/integration/*.sh, and this file is only a part.
#
# One line per check, "PASS: linux-emu/<check>" or "FAIL: linux-emu/<check>: <reason>":
#   smp-parallel   two busy loops in the background for 2 s of guest time: in /proc/stat both
#                  CPUs were busy for at least half of that window (so both ran a loop)
#   sha256sum      busybox sha256sum of 16 MiB made in the guest (yes PATTERN | head -c) equals
#                  the host's sha256sum of the same bytes made here
#   iperf3         iperf3 over the guest's loopback for 2 s reports a receiver bitrate
#   date           the guest's `date +%s`, read as its second begins (nextsec of
#                  linux_boot_checks.sh), is within 2 s of the host clock when the line arrived
#   dmesg-cpu      the dmesg (read at the end) has no warning from the CPU, timer or APIC code
# That the two CPUs come up and run the command is the main boot's boot, hv.run and cpus.
#
# Costs on the interpreter (measured with 2 vCPUs on an idle 2-core host): making and hashing
# the 16 MiB (the size issue #4 names) about 17 s, iperf3 about 5 s with its start-up.

SHA_PATTERN=hostvisor-emu-sha256
SHA_BYTES=16777216
LOOP_SECONDS=2
DATE_SLACK=2

# No double quotes (hv.run="..." ends at the first one). Every result line has a tag the checks
# below look for.
# Two loops that each spin until the guest's uptime reaches start + LOOP_SECONDS (bounded however
# fast or slow the CPU is), between two snapshots of the per-CPU times.
EMU_RUN=' grep ^cpu[01] /proc/stat | sed s/^/STAT0\ /; read s _ </proc/uptime;'
# shellcheck disable=SC2016 # expanded by the guest's shell
EMU_RUN+=' e=$((${s%.*}+'$LOOP_SECONDS')); for j in 1 2; do (while :; do read u _ </proc/uptime;'
# shellcheck disable=SC2016
EMU_RUN+=' [ ${u%.*} -ge $e ] && break; done) & done; wait;'
# shellcheck disable=SC2016
EMU_RUN+=' grep ^cpu[01] /proc/stat | sed s/^/STAT1\ /; read u _ </proc/uptime; echo LOOPS $s $u;'
EMU_RUN+=" yes $SHA_PATTERN | head -c $SHA_BYTES >/dev/shm/d; sha256sum /dev/shm/d | sed s/^/SHA\\ /;"
EMU_RUN+=' rm -f /dev/shm/d; iperf3 -s -1 -D -B 127.0.0.1; for i in 1 2 3; do sleep 1;'
EMU_RUN+=' timeout 60 iperf3 -c 127.0.0.1 -t 2 -f m >/dev/shm/i 2>&1 && break; done;'
# shellcheck disable=SC2016
EMU_RUN+=' echo IPERF-BEGIN; cat /dev/shm/i; echo IPERF-END; echo DATE $(nextsec date +%s);'

# The lines between BEGIN-TAG and END-TAG of serial file FILE (none when END-TAG is missing).
emu_section() { # file tag
	grep -qx "$2-END" "$1" || return 0
	sed -n "/^$2-BEGIN\$/,/^$2-END\$/p" "$1" | sed '1d; $d'
}

# A check whose tag is missing from boot NAME: the reason is the boot's, when it did not finish.
emu_missing() { # check what name rc
	if grep -q '^HV-EXIT [0-9]' "$WORK/$3.serial" && [ "$4" -eq 0 ]; then
		fail "$1" "no $2 in the guest's output"
	else
		fail "$1" "no $2 in the guest's output; $(status_text "$4"); serial tail: $(tail -3 "$WORK/$3.serial" |
			tr '\n' '|' | sed 's/|$//; s/|/ | /g'); stderr: $(stderr_tail "$3")"
	fi
}

# /proc/stat cpuN lines: user nice system idle iowait irq softirq steal... in clock ticks. Busy
# is everything but idle and iowait (guest and guest_nice, which user already counts, are left
# out); the share is busy over all ticks of that CPU in the window.
emu_check_parallel() { # name rc
	local serial=$WORK/$1.serial loops result
	loops=$(sed -n 's/^LOOPS \([0-9.]*\) \([0-9.]*\)$/\1 \2/p' "$serial" | head -1)
	if [ -z "$loops" ] || [ "$(grep -c '^STAT[01] cpu[01] ' "$serial")" -ne 4 ]; then
		emu_missing smp-parallel "STAT0/STAT1 lines for cpu0 and cpu1 and a LOOPS line" "$1" "$2"
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
		}' "$serial")
	if [ "${result%% *}" = 1 ]; then
		pass smp-parallel "${result#* }"
	else
		fail smp-parallel "both CPUs should be busy at least 50% while the two loops run: ${result#* }"
	fi
}

emu_check_sha256() { # name rc
	local guest host
	guest=$(sed -n 's/^SHA \([0-9a-f]\{64\}\) .*/\1/p' "$WORK/$1.serial" | head -1)
	host=$(yes "$SHA_PATTERN" | head -c "$SHA_BYTES" | sha256sum | cut -d' ' -f1)
	if [ -z "$guest" ]; then
		emu_missing sha256sum "SHA line" "$1" "$2"
	elif [ "$guest" != "$host" ]; then
		fail sha256sum "guest $guest, host $host for the same $SHA_BYTES bytes"
	else
		pass sha256sum "$((SHA_BYTES / 1048576)) MiB: $guest"
	fi
}

emu_check_iperf3() { # name rc
	local text rate
	text=$(emu_section "$WORK/$1.serial" IPERF)
	if [ -z "$text" ]; then
		emu_missing iperf3 "IPERF-BEGIN..IPERF-END section" "$1" "$2"
		return
	fi
	rate=$(grep -E 'receiver' <<<"$text" | grep -oE '[0-9.]+ [KMG]?bits/sec' | tail -1)
	if [ -n "$rate" ]; then
		pass iperf3 "2 s over 127.0.0.1: $rate at the receiver"
	else
		fail iperf3 "no receiver bitrate; iperf3 said: $(tail -3 <<<"$text" | tr '\n' '|' | sed 's/|$//; s/|/ | /g')"
	fi
}

emu_check_date() { # name rc
	local line stamp guest diff
	line=$(grep -m1 -E '^[0-9.]+ DATE [0-9]+$' "$WORK/$1.log")
	if [ -z "$line" ]; then
		emu_missing date "DATE line" "$1" "$2"
		return
	fi
	stamp=${line%% *}
	guest=${line##* }
	diff=$(awk -v a="$stamp" -v b="$guest" 'BEGIN { printf "%.3f", a - b }')
	# nextsec printed date +%s just after the guest's second changed. The guest's clock itself
	# may be up to 1.5 s behind the host and 0.5 s ahead: rtc_cmos set it from the RTC's second
	# plus 0.5 s (hctosys), and the RTC's seconds lag the host's by up to 1 s.
	if awk -v d="$diff" -v s="$DATE_SLACK" 'BEGIN { exit !(d >= -s && d <= s) }'; then
		pass date "guest $guest, host clock $diff s later"
	else
		fail date "guest date $guest is $diff s off the host clock at arrival (limit $DATE_SLACK s)"
	fi
}

# Warnings from the CPU, timer and APIC code; the kernel command line (which is hv.run's text)
# is left out.
emu_dmesg_cpu_offending() { # dmesg-file
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

emu_check_dmesg() { # name rc
	local f=$WORK/$1.dmesg offending
	if [ ! -s "$f" ]; then
		emu_missing dmesg-cpu "DMESG-BEGIN..DMESG-END section" "$1" "$2"
		return
	fi
	offending=$(emu_dmesg_cpu_offending "$f")
	if [ -z "$offending" ]; then
		pass dmesg-cpu "$(wc -l <"$f") lines, none from the CPU, timer or APIC code"
	else
		fail dmesg-cpu "$(wc -l <<<"$offending") offending line(s): $(head -5 <<<"$offending" |
			sed 's/^\[ *[0-9.]*\] //' | tr '\n' '|' | sed 's/|$//; s/|/ | /g')"
	fi
}

# The checks on boot NAME (serial output in $WORK/NAME.serial, with arrival stamps in
# $WORK/NAME.log, its dmesg in $WORK/NAME.dmesg), which hostvisor ended with status RC.
emu_checks() { # name rc
	emu_check_parallel "$@"
	emu_check_sha256 "$@"
	emu_check_iperf3 "$@"
	emu_check_date "$@"
	emu_check_dmesg "$@"
}
