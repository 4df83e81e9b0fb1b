#!/usr/bin/env bash
# CPU emulation, hostvisor's emu engine against QEMU TCG, on the same guest in one run.
#
#   bench/cpu.sh [--size MIB] [--mem MIB] [--timeout SECONDS]
#
# Both VMMs boot the default guest as hostvisor's emu engine takes it by default (src/main.c):
# the ELF vmlinux, entered through its PVH note (QEMU 4.0+ does so with -kernel), the
# uncompressed initrd.cpio (initrd.img where there is none) and "console=ttyS0 quiet
# cryptomgr.notests"; the same files and command line for both, 1 CPU, MEM MiB (default 512), no
# NIC. They run one hv.run command: make MIB (default 64) MiB of deterministic data in /dev/shm
# (yes PATTERN | head -c), then busybox sha256sum of it, timed inside the guest by /proc/uptime
# ("HV-COMPUTE <seconds>"); the hash must equal the host's of the same bytes. Measured per VMM:
#   - host wall clock from the VMM's start to HV-BOOTED on the console and to its exit
#   - the sha256sum's guest time, and MiB/s
#   - hostvisor only: guest instructions per second in the sha256sum, from --stats ("guest
#     instructions executed (emu)") of this run minus that of a second run with the same command
#     without the sha256sum line, over the sha256sum's guest time (QEMU TCG counts none: n/a)
#   - peak RSS outside guest RAM: /proc/PID/smaps sampled every ~100 ms, the Rss of every mapping
#     but guest RAM summed. Guest RAM is the anonymous mapping closest in size to MEM MiB (at
#     least MEM, at most MEM + 64 MiB), else the largest anonymous mapping. QEMU's TCG code
#     buffer is anonymous too and counts as the VMM's.
# Every run is bounded (--timeout, default 900 s a VM); only the VMMs started here are ended, by
# PID; logs go to $BUILD/bench-logs/cpu-*. Not a test: it ends with a markdown table. Exit status 1
# when a run failed (its cells say "failed", the reasons are printed above the table).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

BUILD=${BUILD:-build}
HV=$BUILD/hostvisor
GUEST=$BUILD/guest
SIZE_MIB=64
MEM_MIB=512
TIMEOUT=900
PATTERN=hostvisor-cpu-bench
COMMAND_LINE="bench/cpu.sh${*:+ $*}"
while [ $# -gt 0 ]; do
	case $1 in
	--size) SIZE_MIB=$2; shift 2 ;;
	--mem) MEM_MIB=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	-h | --help) sed -n '2,24p' "$0"; exit 0 ;;
	*) echo "cpu.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
for n in "$SIZE_MIB" "$MEM_MIB" "$TIMEOUT"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "cpu.sh: '$n' is not a positive number" >&2; exit 2; }
done
[ "$SIZE_MIB" -le $((MEM_MIB / 2)) ] || { echo "cpu.sh: --size must be at most half of --mem" >&2; exit 2; }
INITRD=$GUEST/initrd.cpio
[ -f "$INITRD" ] || INITRD=$GUEST/initrd.img
for need in "$GUEST/vmlinux" "$INITRD"; do
	[ -f "$need" ] || { echo "cpu.sh: $need is missing (make guest)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-cpu.XXXXXX") || exit 2
LOGDIR=$BUILD/bench-logs
VM_PID=

cleanup() {
	local f
	if [ -n "$VM_PID" ] && kill -0 "$VM_PID" 2>/dev/null; then
		kill -TERM "$VM_PID" 2>/dev/null
		sleep 1
		kill -KILL "$VM_PID" 2>/dev/null
		wait "$VM_PID" 2>/dev/null
	fi
	if mkdir -p "$LOGDIR" 2>/dev/null; then
		for f in "$WORK"/*.out "$WORK"/*.err; do
			[ -f "$f" ] && cp "$f" "$LOGDIR/cpu-${f##*/}"
		done
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

BYTES=$((SIZE_MIB * 1048576))
MEM_KIB=$((MEM_MIB * 1024))
# No double quotes in the command (hv.run="..." ends at the first one).
MAKE_DATA="yes $PATTERN | head -c $BYTES >/dev/shm/d; read a _ </proc/uptime;"
# shellcheck disable=SC2016 # expanded by the guest's shell
REPORT=' read b _ </proc/uptime; echo HV-COMPUTE $(echo $a $b | awk '\''{ print $2 - $1 }'\'')'
RUN_COMPUTE="$MAKE_DATA sha256sum /dev/shm/d;$REPORT"
RUN_BASELINE="$MAKE_DATA$REPORT"
append() { # command
	echo "console=ttyS0 quiet cryptomgr.notests hv.run=\"$1\""
}
EXPECTED=$(yes "$PATTERN" | head -c "$BYTES" | sha256sum | cut -d' ' -f1)

now() { echo "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Rss (KiB) of PID outside and inside guest RAM: "outside guest".
# shellcheck disable=SC2016 # awk, not shell
SMAPS_AWK='
/^[0-9a-f]+-[0-9a-f]+ / { n++; anon[n] = (NF == 5) }
/^Size:/ { size[n] = $2 }
/^Rss:/ { rss[n] = $2; total += $2 }
END {
	g = 0; best = -1
	for (i = 1; i <= n; i++)
		if (anon[i] && size[i] >= mem && size[i] <= mem + 65536 && (best < 0 || size[i] - mem < best)) {
			g = i; best = size[i] - mem
		}
	if (!g)
		for (i = 1; i <= n; i++)
			if (anon[i] && (!g || size[i] > size[g])) g = i
	printf "%d %d\n", total - (g ? rss[g] : 0), g ? rss[g] : 0
}'

# Runs one VM in the background and watches it. NAME.out gets the console, NAME.err stderr,
# NAME.res "booted_s exit_s status peak_outside_kib guest_rss_kib_at_that_peak" ("-" for a
# time that did not come).
run_vm() { # name vmm append
	local name=$1 vmm=$2 line=$3 out=$WORK/$1.out err=$WORK/$1.err start booted=- exited=- rc
	local peak=0 peak_guest=0 sample outside guest deadline=$((SECONDS + TIMEOUT))
	echo "== $name: $vmm, up to $TIMEOUT s" >&2
	start=$(now)
	if [ "$vmm" = qemu ]; then
		qemu-system-x86_64 -accel tcg -machine pc -m "$MEM_MIB" -smp 1 -display none -vga none \
			-monitor none -nic none -serial stdio -no-reboot -kernel "$GUEST/vmlinux" \
			-initrd "$INITRD" -append "$line" </dev/null >"$out" 2>"$err" &
	else
		"$HV" run --engine emu --kernel "$GUEST/vmlinux" --initrd "$INITRD" \
			--append "$line" --mem "${MEM_MIB}M" --cpus 1 --no-reboot --stats \
			</dev/null >"$out" 2>"$err" &
	fi
	VM_PID=$!
	while kill -0 "$VM_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
		if [ "$booted" = - ] && grep -q 'HV-BOOTED' "$out"; then
			booted=$(since "$start")
		fi
		if sample=$(awk -v mem="$MEM_KIB" "$SMAPS_AWK" "/proc/$VM_PID/smaps" 2>/dev/null); then
			read -r outside guest <<<"$sample"
			if [ "${outside:-0}" -gt "$peak" ]; then
				peak=$outside
				peak_guest=$guest
			fi
		fi
		sleep 0.1
	done
	if kill -0 "$VM_PID" 2>/dev/null; then
		kill -TERM "$VM_PID" 2>/dev/null
		sleep 2
		kill -KILL "$VM_PID" 2>/dev/null
		wait "$VM_PID" 2>/dev/null
		rc=timeout
	else
		wait "$VM_PID" 2>/dev/null
		rc=$?
		exited=$(since "$start")
	fi
	VM_PID=
	[ "$booted" = - ] && grep -q 'HV-BOOTED' "$out" && booted=$exited
	echo "$booted $exited $rc $peak $peak_guest" >"$WORK/$name.res"
}

FAILURES=()
# Checks run NAME: sets OK (1/0); a failure is recorded with its reason and log tails.
check_run() { # name want-compute
	local name=$1 res reason=
	read -r -a res <"$WORK/$name.res"
	if [ "${res[2]}" = timeout ]; then
		reason="did not end within $TIMEOUT s"
	elif [ "${res[2]}" != 0 ]; then
		reason="exited ${res[2]}"
	elif ! tr -d '\r' <"$WORK/$name.out" | grep -qx 'HV-EXIT 0'; then
		reason="no 'HV-EXIT 0' on the console"
	elif [ "$2" = 1 ] && ! tr -d '\r' <"$WORK/$name.out" | grep -q "^$EXPECTED "; then
		reason="the guest's sha256sum is not $EXPECTED"
	fi
	OK=1
	if [ -n "$reason" ]; then
		OK=0
		FAILURES+=("$name: $reason; console: $(tail -3 "$WORK/$name.out" | tr -d '\r' |
			tr '\n' '|' | sed 's/|$//'); stderr: $(tail -3 "$WORK/$name.err" | tr '\n' '|' | sed 's/|$//')")
	fi
}

field() { # name index
	local res
	read -r -a res <"$WORK/$1.res"
	echo "${res[$2]}"
}
compute_seconds() { # name
	tr -d '\r' <"$WORK/$1.out" | sed -n 's/^HV-COMPUTE \([0-9.e+-]*\)$/\1/p' | head -1
}
instructions() { # name
	sed -n 's/.*guest instructions executed (emu): \([0-9]*\).*/\1/p' "$WORK/$1.err" | tail -1
}

# ---- the runs ----

run_vm hv-compute hostvisor "$(append "$RUN_COMPUTE")"
check_run hv-compute 1
HV_OK=$OK
if [ "$HV_OK" = 1 ]; then
	run_vm hv-baseline hostvisor "$(append "$RUN_BASELINE")"
	check_run hv-baseline 0
	HV_BASE_OK=$OK
else
	HV_BASE_OK=0
	echo "== hv-baseline: not run (hv-compute failed)" >&2
fi
run_vm qemu-compute qemu "$(append "$RUN_COMPUTE")"
check_run qemu-compute 1
QEMU_OK=$OK

# ---- the table ----

fmt() { # ok value [scale]: the value (divided by scale), or failed / n/a
	if [ "$1" != 1 ]; then echo failed; return; fi
	if [ -z "$2" ] || [ "$2" = - ] || [ "$2" = 0 ]; then echo n/a; return; fi
	awk -v v="$2" -v s="${3:-1}" 'BEGIN { printf (s == 1 ? "%.2f" : "%.1f"), v / s }'
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b; else print "-" }'
}
rate() { # mib seconds
	awk -v m="$1" -v s="$2" 'BEGIN { if (s ~ /^[0-9.]+$/ && s + 0 > 0) printf "%.1f", m / s; else print "" }'
}

hv_boot=$(fmt "$HV_OK" "$(field hv-compute 0)") q_boot=$(fmt "$QEMU_OK" "$(field qemu-compute 0)")
hv_exit=$(fmt "$HV_OK" "$(field hv-compute 1)") q_exit=$(fmt "$QEMU_OK" "$(field qemu-compute 1)")
hv_sec=$(fmt "$HV_OK" "$(compute_seconds hv-compute)")
q_sec=$(fmt "$QEMU_OK" "$(compute_seconds qemu-compute)")
hv_mibs=$(fmt "$HV_OK" "$(rate "$SIZE_MIB" "$hv_sec")")
q_mibs=$(fmt "$QEMU_OK" "$(rate "$SIZE_MIB" "$q_sec")")
hv_rss=$(fmt "$HV_OK" "$(field hv-compute 3)" 1024)
q_rss=$(fmt "$QEMU_OK" "$(field qemu-compute 3)" 1024)
hv_grss=$(fmt "$HV_OK" "$(field hv-compute 4)" 1024)
q_grss=$(fmt "$QEMU_OK" "$(field qemu-compute 4)" 1024)
hv_ips=failed
insns_note="from --stats: this run minus a run without the sha256sum line, over its guest time"
if [ "$HV_OK" = 1 ] && [ "$HV_BASE_OK" = 1 ]; then
	i_compute=$(instructions hv-compute)
	i_base=$(instructions hv-baseline)
	if [ -n "$i_compute" ] && [ -n "$i_base" ] && [[ $hv_sec =~ ^[0-9.]+$ ]]; then
		hv_ips=$(awk -v c="$i_compute" -v b="$i_base" -v s="$hv_sec" \
			'BEGIN { if (s > 0 && c > b) printf "%.1f M", (c - b) / s / 1e6; else print "n/a" }')
		insns_note+="; $i_compute - $i_base instructions"
	else
		hv_ips=n/a
		insns_note="--stats printed no instruction count"
	fi
fi

echo
if [ ${#FAILURES[@]} -gt 0 ]; then
	echo "Failed runs:"
	printf '  %s\n' "${FAILURES[@]}"
	echo
fi
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "CPU emulation: sha256sum of $SIZE_MIB MiB in a $MEM_MIB MiB, 1-CPU guest (Debian $(cat "$GUEST/kernel.version" 2>/dev/null || echo kernel), vmlinux + ${INITRD##*/} through PVH); $(date -u '+%F %H:%M UTC'), \`$COMMAND_LINE\`"
echo "Host: ${cpu_model:-unknown CPU}, $(nproc) CPUs, $(uname -r); $(qemu-system-x86_64 --version | head -1)"
echo
echo "| | hostvisor --engine emu | QEMU -accel tcg | ratio hv/QEMU |"
echo "|---|---:|---:|---:|"
echo "| start to HV-BOOTED (s, host wall clock) | $hv_boot | $q_boot | $(ratio "$hv_boot" "$q_boot") |"
echo "| start to exit (s, host wall clock) | $hv_exit | $q_exit | $(ratio "$hv_exit" "$q_exit") |"
echo "| sha256sum of $SIZE_MIB MiB (s, guest /proc/uptime) | $hv_sec | $q_sec | $(ratio "$hv_sec" "$q_sec") |"
echo "| sha256sum throughput (MiB/s) | $hv_mibs | $q_mibs | $(ratio "$hv_mibs" "$q_mibs") |"
echo "| guest instructions/s in sha256sum | $hv_ips | n/a | - |"
echo "| peak RSS outside guest RAM (MiB) | $hv_rss | $q_rss | $(ratio "$hv_rss" "$q_rss") |"
echo "| guest RAM RSS at that peak (MiB) | $hv_grss | $q_grss | - |"
echo
echo "Instructions/s: $insns_note. RSS: /proc/PID/smaps every ~100 ms during the sha256sum run."
[ ${#FAILURES[@]} -eq 0 ]
