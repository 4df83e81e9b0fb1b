#!/usr/bin/env bash
# The Linux-guest half of bench/net.sh, run where KVM runs a kernel at speed: inside the carrier
# (tests/carrier/run.sh) on a PVM host, or on the host itself. Not meant to be run by hand (it
# is not executable on purpose); bench/net.sh reads its "RESULT <vmm> <key> <value>" lines.
#
#   BUILD=build bash bench/net_inner.sh     (as root)
#
# For hostvisor (--engine kvm --net pcnet,tap=hb0) and for QEMU (-enable-kvm -device pcnet on a
# TAP), one boot each of the default guest ($BUILD/guest, /init = guest/init) with the same
# kernel, initrd, command line and memory, whose hv.run does, in order:
#   @PING  NET_BENCH_PINGS pings to the host, 0.2 s apart (the median RTT is reported)
#   @TX    iperf3 -c for NET_BENCH_SECONDS s: guest -> host
#   @RX    iperf3 -c -R for NET_BENCH_SECONDS s: host -> guest
#   @END
# A sampler on the host side reads the serial output as it comes and, at each marker line,
# records the VMM process's CPU time (/proc/PID/stat: user, system and the guest share of user),
# the TAP's byte, frame and drop counters (/proc/net/dev) and the namespace's TCP RetransSegs
# (/proc/net/snmp). Between two markers lies one transfer, so CPU per GB is the VMM's user+sys
# over that window divided by the bytes through the TAP (both directions, ACKs included).
# Exits: hostvisor's --stats total; both VMMs also run under `perf stat -I 100 -e
# kvm:kvm_userspace_exit,kvm:kvm_exit` when perf works (the first counts the KVM_RUN returns to
# the VMM, what --stats counts; the second every exit from the guest, also those the kernel
# handles). Exits per frame: a whole run's exits (boot included) over its frames through the
# TAP, and each transfer window's over that window's frames.
#
# Network: each VMM gets a namespace of its own (hvbench-<vmm>-PID) with one TAP, hb0,
# 198.18.0.1/24 (the guest is 198.18.0.2), IPv6 off; both are deleted on exit, whatever happens.
# Every process is bounded by timeout(1); only processes started here are ended, by PID.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

BUILD=${BUILD:-build}
HV=$BUILD/hostvisor
SECS=${NET_BENCH_SECONDS:-10}
PINGS=${NET_BENCH_PINGS:-50}
BOOT_TIMEOUT=${NET_BENCH_BOOT_TIMEOUT:-300}
MEM_MIB=512
MAC=02:00:00:00:00:21
HOST_IP=198.18.0.1
GUEST_IP=198.18.0.2
TAP=hb0
PORT=5201
PERF_EVENTS=kvm:kvm_userspace_exit,kvm:kvm_exit

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-net.XXXXXX") || exit 2
LOGDIR=$BUILD/bench-logs
NAMESPACES=()
PIDS=()

# Waits at most SECONDS for PID (a child of this shell), then SIGKILL. Sets EXIT_STATUS.
EXIT_STATUS=
wait_exit() { # pid seconds
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt "$deadline" ]; do
		sleep 0.2
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	EXIT_STATUS=$?
}

stop_started() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		wait_exit "$pid" 5
	done
	PIDS=()
}

cleanup() {
	local ns f
	stop_started
	for ns in "${NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null || echo "net_inner: cannot delete namespace $ns" >&2
	done
	if mkdir -p "$LOGDIR" 2>/dev/null; then
		for f in "$WORK"/*; do
			[ -f "$f" ] && cp "$f" "$LOGDIR/net-${f##*/}"
		done
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

in_ns() { # namespace command...
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

result() { # vmm key value
	echo "RESULT $1 $2 ${3:-n/a}"
}

# Waits at most SECONDS until TCP PORT listens on ADDR inside NAMESPACE.
wait_listening() { # namespace addr port seconds
	local deadline=$((SECONDS + $4))
	while [ $SECONDS -lt "$deadline" ]; do
		in_ns "$1" ss -Hltn "src $2:$3" 2>/dev/null | grep -q . && return 0
		sleep 0.2
	done
	return 1
}

IPERF3=()
find_iperf3() {
	local stage=$BUILD/guest/stage
	if command -v iperf3 >/dev/null; then
		IPERF3=(iperf3)
	elif [ -x "$stage/usr/bin/iperf3" ]; then
		# The guest's own build (same distribution), with its libraries.
		IPERF3=(env "LD_LIBRARY_PATH=$stage/usr/lib/x86_64-linux-gnu" "$stage/usr/bin/iperf3")
		"${IPERF3[@]}" --version >/dev/null 2>&1 || IPERF3=()
	fi
}

# perf reads the tracepoints from tracefs; the carrier does not mount it. Mounting it there
# touches only the carrier's own kernel.
PERF=
find_perf() {
	command -v perf >/dev/null || return 0
	if [ "${CARRIER:-}" = 1 ] && [ ! -d /sys/kernel/tracing/events ]; then
		mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
	fi
	if perf stat -x, -e "$PERF_EVENTS" -o /dev/null -- true >/dev/null 2>&1; then
		PERF=perf
	fi
}

# The sampler (runs inside the namespace). Follows the serial log SERIAL; finds the VMM process
# (comm hostvisor or qemu-system-x86) among the descendants of ROOT; at each marker line "@NAME"
# prints "MARK NAME monotonic-s utime stime guest-time (ticks) tap-rx-bytes tap-rx-frames
# tap-rx-drops tap-tx-bytes tap-tx-frames tap-tx-drops tcp-retrans-segs exits hw-exits". The
# exits are the sums so far of perf stat -I's interval counts in PERF_OUT (-1 without perf):
# at most one interval (100 ms) behind. Ends at "@END", when ROOT is gone, or after LIMIT s.
# shellcheck disable=SC2016 # Python, not shell
SAMPLER_PY='
import os, sys, time

serial, root, tap, limit, perf_out = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
deadline = time.monotonic() + limit
VMM_COMMS = ("hostvisor", "qemu-system-x86")

def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out

def find_vmm():
    todo, seen = [root], 0
    while todo and seen < 64:
        pid = todo.pop(0)
        seen += 1
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip().startswith(VMM_COMMS):
                    return pid
        except OSError:
            continue
        todo += children(pid)
    return None

def cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return ["-1", "-1", "-1"]
    rest = s[s.rfind(")") + 2:].split()
    return [rest[11], rest[12], rest[40]]  # utime, stime, guest_time (fields 14, 15, 43)

def tap_counters():
    with open("/proc/net/dev") as f:
        for line in f:
            name, _, data = line.partition(":")
            if name.strip() == tap:
                v = data.split()
                return [v[0], v[1], v[3], v[8], v[9], v[11]]
    return ["-1"] * 6

def retrans():
    with open("/proc/net/snmp") as f:
        rows = [l.split() for l in f if l.startswith("Tcp:")]
    return rows[1][rows[0].index("RetransSegs")]

def exits():
    sums = {"kvm:kvm_userspace_exit": 0, "kvm:kvm_exit": 0}
    try:
        with open(perf_out) as f:
            for line in f:
                v = line.strip().split(",")
                if len(v) > 3 and v[3] in sums and v[1].isdigit():
                    sums[v[3]] += int(v[1])
    except OSError:
        return ["-1", "-1"]
    return [str(sums["kvm:kvm_userspace_exit"]), str(sums["kvm:kvm_exit"])]

vmm, pos, partial = None, 0, ""
while time.monotonic() < deadline:
    if vmm is None:
        vmm = find_vmm()
        if vmm is not None:
            print("VMM", vmm, flush=True)
    try:
        with open(serial, "rb") as f:
            f.seek(pos)
            data = f.read()
    except OSError:
        data = b""
    pos += len(data)
    lines = (partial + data.decode("latin-1")).split("\n")
    partial = lines.pop()
    end = False
    for line in lines:
        name = line.strip()
        if name.startswith("@") and " " not in name and vmm is not None:
            print("MARK", name[1:], "%.3f" % time.monotonic(),
                  *cpu(vmm), *tap_counters(), retrans(), *exits(), flush=True)
            end = end or name == "@END"
    if end or not os.path.exists("/proc/%d" % root):
        break
    time.sleep(0.02)
'

# The guest's command (guest/init's hv.run: no double quotes or backslashes).
GUEST_RUN="echo @PING; ping -c $PINGS -i 0.2 -w $((PINGS / 5 + 30)) $HOST_IP;"
GUEST_RUN+=" echo @TX; timeout $((SECS + 60)) iperf3 -c $HOST_IP -p $PORT -t $SECS -f m;"
GUEST_RUN+=" echo @RX; timeout $((SECS + 60)) iperf3 -c $HOST_IP -p $PORT -t $SECS -f m -R;"
GUEST_RUN+=" echo @END"
APPEND="console=ttyS0 quiet hv.ip=$GUEST_IP/24 hv.run=\"$GUEST_RUN\""

delete_namespace() { # namespace
	local ns kept=()
	ip netns del "$1" 2>/dev/null || echo "net_inner: cannot delete namespace $1" >&2
	for ns in "${NAMESPACES[@]}"; do
		[ "$ns" = "$1" ] || kept+=("$ns")
	done
	NAMESPACES=("${kept[@]}")
}

setup_namespace() { # namespace
	ip netns add "$1" || return 1
	NAMESPACES+=("$1")
	in_ns "$1" ip link set lo up &&
		in_ns "$1" ip tuntap add "$TAP" mode tap &&
		in_ns "$1" sysctl -q -w "net.ipv6.conf.$TAP.disable_ipv6=1" &&
		in_ns "$1" ip addr add "$HOST_IP/24" dev "$TAP" &&
		in_ns "$1" ip link set "$TAP" up
}

# Starts the VMM in the background inside NAMESPACE; serial to $WORK/VMM.serial.raw, stderr to
# $WORK/VMM.stderr. Sets VM_PID (perf or timeout: the VMM is below it).
VM_PID=
start_vm() { # vmm namespace
	local vmm=$1 ns=$2 cmd=()
	[ -n "$PERF" ] && cmd=(perf stat -I 100 -x "," -e "$PERF_EVENTS" -o "$WORK/$vmm.perf" --)
	cmd+=(timeout -k 5 "$BOOT_TIMEOUT")
	if [ "$vmm" = qemu ]; then
		cmd+=(qemu-system-x86_64 -enable-kvm -m "$MEM_MIB" -nographic -no-reboot
			-kernel "$BUILD/guest/vmlinuz" -initrd "$BUILD/guest/initrd.img" -append "$APPEND"
			-netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no"
			-device "pcnet,netdev=n0,mac=$MAC,romfile=")
	else
		cmd+=("$HV" run --engine kvm --kernel "$BUILD/guest/vmlinuz"
			--initrd "$BUILD/guest/initrd.img" --append "$APPEND" --mem "${MEM_MIB}M"
			--net "pcnet,tap=$TAP,mac=$MAC" --serial stdio --no-reboot --stats)
	fi
	ip netns exec "$ns" "${cmd[@]}" </dev/null >"$WORK/$vmm.serial.raw" 2>"$WORK/$vmm.stderr" &
	VM_PID=$!
	PIDS+=("$VM_PID")
}

# The lines of serial log FILE between "@NAME" and the next "@" marker.
section() { # file name
	awk -v want="@$2" '/^@/ { on = ($0 == want); next } on' "$1"
}

# Reports the figures of one transfer window FROM..TO as KEY_*.
window_results() { # vmm key from to
	awk -v vmm="$1" -v key="$2" -v from="$3" -v to="$4" -v tick="$(getconf CLK_TCK)" '
		# MARK name t utime stime guest-time rx-bytes rx-frames rx-drops tx-bytes tx-frames
		# tx-drops retrans-segs exits hw-exits: a[] holds the fields of FROM, b[] those of TO.
		$1 == "MARK" && NF == 15 && $2 == from && !na { na = split($0, a) }
		$1 == "MARK" && NF == 15 && $2 == to && !nb { nb = split($0, b) }
		END {
			if (!na || !nb) {
				printf "RESULT %s %s_missing 1\n", vmm, key
				exit
			}
			cpu = ((b[4] + b[5]) - (a[4] + a[5])) / tick
			guest = (b[6] - a[6]) / tick
			gb = ((b[7] + b[10]) - (a[7] + a[10])) / 1e9
			printf "RESULT %s %s_window_s %.2f\n", vmm, key, b[3] - a[3]
			printf "RESULT %s %s_cpu_s %.2f\n", vmm, key, cpu
			printf "RESULT %s %s_guest_cpu_s %.2f\n", vmm, key, guest
			printf "RESULT %s %s_gb %.4f\n", vmm, key, gb
			frames = (b[8] + b[11]) - (a[8] + a[11])
			printf "RESULT %s %s_frames %d\n", vmm, key, frames
			if (a[14] >= 0 && frames > 0) {
				printf "RESULT %s %s_exits %d\n", vmm, key, b[14] - a[14]
				printf "RESULT %s %s_exits_per_frame %.3f\n", vmm, key, (b[14] - a[14]) / frames
				printf "RESULT %s %s_hw_exits_per_frame %.3f\n", vmm, key, (b[15] - a[15]) / frames
			}
			if (gb > 0) {
				printf "RESULT %s %s_cpu_per_gb %.2f\n", vmm, key, cpu / gb
				printf "RESULT %s %s_vmm_cpu_per_gb %.2f\n", vmm, key, (cpu - guest) / gb
			}
			printf "RESULT %s %s_retrans %d\n", vmm, key, b[13] - a[13]
			printf "RESULT %s %s_tap_rx_drops %d\n", vmm, key, b[9] - a[9]
			printf "RESULT %s %s_tap_tx_drops %d\n", vmm, key, b[12] - a[12]
		}' "$WORK/$1.marks"
}

# iperf3's receiver rate (Mbit/s) and the sender's Retr column in section NAME.
iperf_receiver() { # file name
	section "$1" "$2" | awk '/ receiver$/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") r = $i } END { print r }'
}
iperf_sender_retr() { # file name
	section "$1" "$2" | awk '/ sender$/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec" && $(i + 2) ~ /^[0-9]+$/) r = $(i + 2) } END { print r }'
}

ping_median() { # file
	section "$1" PING | sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else if (NR) printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Frames through the TAP over the whole run (the TAP is new, so its counters are the run's).
tap_frames_total() { # namespace
	in_ns "$1" cat /proc/net/dev | awk -v tap="$TAP:" '$1 == tap { print $3 + $11 }'
}

# The sum of perf stat -I's interval counts of EVENT: the whole run.
perf_count() { # vmm event
	[ -f "$WORK/$1.perf" ] || return 0
	awk -F, -v ev="$2" '$4 == ev && $2 ~ /^[0-9]+$/ { n += $2; seen = 1 } END { if (seen) print n }' \
		"$WORK/$1.perf"
}

bench_vmm() { # vmm
	local vmm=$1 ns=hvbench-$1-$$ start=$SECONDS sampler_pid serial frames exits
	echo "== $vmm: boot, $PINGS pings, iperf3 ${SECS} s each way" >&2
	if ! setup_namespace "$ns"; then
		result "$vmm" error "cannot set up namespace $ns"
		return
	fi
	ip netns exec "$ns" timeout $((BOOT_TIMEOUT + 30)) "${IPERF3[@]}" -s -B "$HOST_IP" -p "$PORT" \
		>"$WORK/$vmm.iperf3-server.log" 2>&1 &
	PIDS+=($!)
	if ! wait_listening "$ns" "$HOST_IP" "$PORT" 30; then
		result "$vmm" error "the iperf3 server did not start"
		return
	fi
	start_vm "$vmm" "$ns"
	ip netns exec "$ns" timeout $((BOOT_TIMEOUT + 10)) python3 -c "$SAMPLER_PY" \
		"$WORK/$vmm.serial.raw" "$VM_PID" "$TAP" "$BOOT_TIMEOUT" "$WORK/$vmm.perf" \
		>"$WORK/$vmm.marks" 2>&1 &
	sampler_pid=$!
	PIDS+=("$sampler_pid")
	wait_exit "$VM_PID" $((BOOT_TIMEOUT + 15))
	result "$vmm" exit_status "$EXIT_STATUS"
	result "$vmm" run_s $((SECONDS - start))
	wait_exit "$sampler_pid" 10
	serial=$WORK/$vmm.serial
	tr -d '\r' <"$WORK/$vmm.serial.raw" >"$serial"
	rm -f "$WORK/$vmm.serial.raw"
	frames=$(tap_frames_total "$ns")
	stop_started

	result "$vmm" ping_median_ms "$(ping_median "$serial")"
	result "$vmm" ping_stats "$(section "$serial" PING | grep -m1 'packets transmitted' | tr ' ' _)"
	result "$vmm" up_mbps "$(iperf_receiver "$serial" TX)"
	result "$vmm" down_mbps "$(iperf_receiver "$serial" RX)"
	result "$vmm" up_guest_retr "$(iperf_sender_retr "$serial" TX)"
	window_results "$vmm" up TX RX
	window_results "$vmm" down RX END
	result "$vmm" tap_frames "$frames"
	exits=$(perf_count "$vmm" kvm:kvm_userspace_exit)
	result "$vmm" perf_exits "$exits"
	result "$vmm" perf_hw_exits "$(perf_count "$vmm" kvm:kvm_exit)"
	if [ "$vmm" = hostvisor ]; then
		exits=$(sed -n 's/^  total exits \([0-9]*\)$/\1/p' "$WORK/$vmm.stderr")
		result "$vmm" stats_exits "$exits"
		result "$vmm" stats_nic "$(grep -m1 '^  nic0 ' "$WORK/$vmm.stderr" | sed 's/^ *//; s/ /_/g')"
	fi
	if [ -n "$exits" ] && [ "${frames:-0}" -gt 0 ]; then
		result "$vmm" exits_per_frame "$(awk -v e="$exits" -v f="$frames" 'BEGIN { printf "%.3f", e / f }')"
	fi
	delete_namespace "$ns"
}

main() {
	local c
	[ "$(id -u)" -eq 0 ] || { echo "net_inner: needs root (namespaces, TAPs)" >&2; exit 2; }
	for c in ip python3 ss timeout qemu-system-x86_64; do
		command -v "$c" >/dev/null || { echo "net_inner: no $c" >&2; exit 2; }
	done
	[ -x "$HV" ] || { echo "net_inner: $HV is not built" >&2; exit 2; }
	find_iperf3
	[ ${#IPERF3[@]} -gt 0 ] || { echo "net_inner: no iperf3 for the host side" >&2; exit 2; }
	find_perf
	result all perf "${PERF:-unavailable}"
	result all kernel "$(uname -r)"
	bench_vmm hostvisor
	bench_vmm qemu
}

main "$@"
