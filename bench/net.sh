#!/usr/bin/env bash
# The PCnet-PCI II NIC, hostvisor's kvm engine against QEMU with KVM (-device pcnet), in one run.
#
#   bench/net.sh [--seconds S] [--pings N] [--frames N] [--runs R]     (as root)
#
# (a) The default Linux guest ($BUILD/guest: same kernel, initrd, command line, 512 MiB) on a TAP,
#     run by bench/net_inner.sh in one boot of the carrier (tests/carrier/run.sh; directly where
#     `hostvisor probe` says KVM runs a kernel at speed): iperf3 TCP for S s (default 10) each
#     way against a server on the host side, the median RTT of N pings (default 50), the VMM's
#     CPU seconds per GB moved, exits per frame, and host->guest TCP retransmits.
# (b) The ring-3 PCnet test guest ($BUILD/tests/guests/pcnet.elf) against its host peer
#     (tests/guests/pcnet_peer.py) on this host, N frames (default 50000) each way, R runs
#     (default 3) per VMM taking turns: medians of frames per second from the guest's TSC and
#     from the peer's clock, and of exits per frame.
# Exits are the VMM's KVM_RUN returns: hostvisor's --stats, and `perf stat -e
# kvm:kvm_userspace_exit` for both VMMs when perf works (n/a for QEMU otherwise); in (a) also
# per transfer window and kvm:kvm_exit (every exit, also those KVM handles itself).
#
# Network: every namespace, TAP and server is made here or in net_inner.sh inside a network
# namespace of its own (198.18.0.1 host side, 198.18.0.2 or the test guest's MAC on the guest
# side), and deleted on exit, also on failure. Every wait is bounded; only processes started
# here are ended, by PID. Logs go to $BUILD/bench-logs/. Not a test: it prints a markdown table.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

BUILD=${BUILD:-build}
HV=$BUILD/hostvisor
ELF=$BUILD/tests/guests/pcnet.elf
NET_BENCH_SECONDS=10
NET_BENCH_PINGS=50
FRAMES=50000
RUNS=3
CARRIER_TIMEOUT=900
RING3_TIMEOUT=120
RING3_MAC=02:48:56:00:00:10
RING3_TAP=hr0
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) NET_BENCH_SECONDS=$2; shift 2 ;;
	--pings) NET_BENCH_PINGS=$2; shift 2 ;;
	--frames) FRAMES=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "net.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
export BUILD NET_BENCH_SECONDS NET_BENCH_PINGS

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bench-net.XXXXXX") || exit 2
LOGDIR=$BUILD/bench-logs
NAMESPACES=()
PIDS=()
START=$SECONDS

EXIT_STATUS=
wait_exit() { # pid seconds: waits at most SECONDS for PID, then SIGKILL; sets EXIT_STATUS
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt "$deadline" ]; do
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	EXIT_STATUS=$?
}

wait_gone() { # pid seconds: waits at most SECONDS for PID to end, without ending it
	local deadline=$((SECONDS + $2))
	while kill -0 "$1" 2>/dev/null && [ $SECONDS -lt "$deadline" ]; do
		sleep 0.1
	done
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
		ip netns del "$ns" 2>/dev/null || echo "net.sh: cannot delete namespace $ns" >&2
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

delete_namespace() { # namespace
	local ns kept=()
	ip netns del "$1" 2>/dev/null || echo "net.sh: cannot delete namespace $1" >&2
	for ns in "${NAMESPACES[@]}"; do
		[ "$ns" = "$1" ] || kept+=("$ns")
	done
	NAMESPACES=("${kept[@]}")
}

# ---- (a) the Linux guest, in the carrier ----

INNER_WHERE=
run_linux_part() {
	local why rc
	if why=$("$HV" probe 2>&1); then
		INNER_WHERE="on this host (KVM runs a kernel at speed here)"
		bash bench/net_inner.sh 2>&1 | tee "$WORK/inner.out" >&2
		rc=${PIPESTATUS[0]}
	else
		INNER_WHERE="inside the carrier (QEMU TCG with SVM; here: $why)"
		CARRIER_ENV="${CARRIER_ENV:+$CARRIER_ENV }BUILD NET_BENCH_SECONDS NET_BENCH_PINGS" \
			tests/carrier/run.sh --timeout "$CARRIER_TIMEOUT" -- bash bench/net_inner.sh 2>&1 |
			tee "$WORK/inner.out" >&2
		rc=${PIPESTATUS[0]}
	fi
	echo "RESULT all inner_status $rc" >>"$WORK/inner.out"
}

# ---- (b) the ring-3 test guest, on this host ----

PERF=
find_perf() {
	command -v perf >/dev/null || return 0
	perf stat -x "," -e kvm:kvm_userspace_exit -o /dev/null -- true >/dev/null 2>&1 && PERF=perf
}

# Prints "RESULT ring3-VMM KEY VALUE" lines to stdout.
ring3_result() { # vmm key value
	echo "RESULT ring3-$1 $2 ${3:-n/a}"
}

ring3_setup() { # namespace
	ip netns add "$1" || return 1
	NAMESPACES+=("$1")
	in_ns "$1" ip tuntap add dev "$RING3_TAP" mode tap &&
		in_ns "$1" sysctl -qw "net.ipv6.conf.$RING3_TAP.disable_ipv6=1" &&
		in_ns "$1" ip addr add 198.18.0.1/24 dev "$RING3_TAP" &&
		in_ns "$1" ip link set "$RING3_TAP" up
}

# Starts the peer and waits (bounded) for its "PEER ready" line.
ring3_start_peer() { # namespace log
	ip netns exec "$1" timeout $((RING3_TIMEOUT + 10)) python3 tests/guests/pcnet_peer.py \
		--ifname "$RING3_TAP" --guest-mac "$RING3_MAC" --tx "$FRAMES" --rx "$FRAMES" \
		--timeout "$RING3_TIMEOUT" >"$2" 2>&1 &
	PEER_PID=$!
	PIDS+=("$PEER_PID")
	for _ in $(seq 100); do
		grep -q '^PEER ready' "$2" && return 0
		kill -0 "$PEER_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Runs the VM in the foreground (waited for, bounded). Sets EXIT_STATUS.
ring3_run_vm() { # vmm namespace
	local vmm=$1 ns=$2 log=$3 cmd=() append pid
	# The same command line for both (pcnet.sh adds fcs=1 for hostvisor; that only adds a
	# check at the end: the guest computes every FCS either way).
	append="tx=$FRAMES rx=$FRAMES mac=0x${RING3_MAC//:/} timeout=$((RING3_TIMEOUT - 10))"
	[ -n "$PERF" ] && cmd=(perf stat -x "," -e kvm:kvm_userspace_exit -o "$log.perf" --)
	cmd+=(timeout -k 5 "$RING3_TIMEOUT")
	if [ "$vmm" = qemu ]; then
		cmd+=(qemu-system-x86_64 -enable-kvm -m 64 -display none -vga none -monitor none
			-serial stdio -no-reboot -kernel "$ELF" -append "$append"
			-netdev "tap,id=n0,ifname=$RING3_TAP,script=no,downscript=no"
			-device "pcnet,netdev=n0,mac=$RING3_MAC,romfile=")
	else
		cmd+=("$HV" run --engine kvm --kernel "$ELF" --append "$append"
			--net "pcnet,tap=$RING3_TAP,mac=$RING3_MAC" --mem 64M --no-reboot --serial stdio
			--stats)
	fi
	ip netns exec "$ns" "${cmd[@]}" </dev/null >"$log.serial.raw" 2>"$log.stderr" &
	pid=$!
	PIDS+=("$pid")
	wait_exit "$pid" $((RING3_TIMEOUT + 15))
	tr -d '\r' <"$log.serial.raw" >"$log.serial"
	rm -f "$log.serial.raw"
}

# The frames/s figure of the guest's "PCNET tx|rx ..." line or the peer's "PEER ..." line.
rate_of() { # file line-prefix
	grep -m1 "^$2" "$1" | sed -n 's/.*: \([0-9]*\) frames\/s.*/\1/p'
}

# One run under VMM; its logs are $WORK/ring3-VMM-RUN.*.
ring3_vmm() { # vmm run
	local vmm=$1 ns=hvbench-ring3-$1-$$ log=$WORK/ring3-$1-$2 serial exits frames fails
	local peerlog=$log.peer.log
	echo "== ring-3 pcnet guest under $vmm, run $2 of $RUNS: $FRAMES frames each way" >&2
	if ! ring3_setup "$ns"; then
		ring3_result "$vmm" error "cannot_set_up_namespace_$ns"
		return
	fi
	if ! ring3_start_peer "$ns" "$peerlog"; then
		ring3_result "$vmm" error "the_peer_did_not_start"
		delete_namespace "$ns"
		return
	fi
	ring3_run_vm "$vmm" "$ns" "$log"
	ring3_result "$vmm" exit_status "$EXIT_STATUS"
	# The peer ends on the guest's last acknowledgement; stop_started ends it (SIGTERM, on
	# which it reports what it got) if it is still there 5 s after the VM.
	wait_gone "$PEER_PID" 5
	frames=$(in_ns "$ns" cat /proc/net/dev | awk -v tap="$RING3_TAP:" '$1 == tap { print $3 + $11 }')
	stop_started
	delete_namespace "$ns"

	serial=$log.serial
	ring3_result "$vmm" tx_fps "$(rate_of "$serial" 'PCNET tx ')"
	ring3_result "$vmm" rx_fps "$(rate_of "$serial" 'PCNET rx ')"
	ring3_result "$vmm" peer_rx_fps "$(rate_of "$peerlog" 'PEER guest->peer')"
	ring3_result "$vmm" peer_tx_fps "$(rate_of "$peerlog" 'PEER peer->guest')"
	ring3_result "$vmm" tap_frames "$frames"
	fails=$(cat "$serial" "$peerlog" | grep -c '^FAIL ')
	grep -q '^DONE pcnet ' "$serial" || fails=$((fails + 1))
	ring3_result "$vmm" failed_checks "$fails"
	exits=
	if [ -n "$PERF" ]; then
		exits=$(awk -F, '$3 == "kvm:kvm_userspace_exit" && $1 ~ /^[0-9]+$/ { print $1 }' \
			"$log.perf" 2>/dev/null)
		ring3_result "$vmm" perf_exits "$exits"
	fi
	if [ "$vmm" = hostvisor ]; then
		exits=$(sed -n 's/^  total exits \([0-9]*\)$/\1/p' "$log.stderr")
		ring3_result "$vmm" stats_exits "$exits"
	fi
	if [ -n "$exits" ] && [ "${frames:-0}" -gt 0 ]; then
		ring3_result "$vmm" exits_per_frame "$(awk -v e="$exits" -v f="$frames" 'BEGIN { printf "%.3f", e / f }')"
	fi
}

# The runs take turns (hostvisor, QEMU, hostvisor, ...) so that a change in the machine's load
# falls on both. Prints per key the median of the runs' numeric values (failed checks: the sum;
# exit status: all of them).
run_ring3_part() {
	local vmm run
	find_perf
	echo "RESULT ring3 perf ${PERF:-unavailable}"
	for ((run = 1; run <= RUNS; run++)); do
		for vmm in hostvisor qemu; do
			ring3_vmm "$vmm" "$run"
		done
	done >"$WORK/ring3.runs"
	awk '
		{ key = $2 " " $3; if (!(key in n)) order[++keys] = key; v[key, ++n[key]] = $4 }
		END {
			for (k = 1; k <= keys; k++) {
				key = order[k]
				split(key, kv, " ")
				if (kv[2] == "failed_checks") {
					for (i = 1; i <= n[key]; i++) s += v[key, i]
					print "RESULT", key, s
					s = 0
				} else if (kv[2] == "exit_status" || v[key, 1] !~ /^[0-9.]+$/) {
					out = v[key, 1]
					for (i = 2; i <= n[key]; i++) out = out "," v[key, i]
					print "RESULT", key, out
				} else {
					print "RESULT", key, median(key, n[key])
				}
			}
		}
		function median(key, m,    i, j, t, a) {
			for (i = 1; i <= m; i++) a[i] = v[key, i] + 0
			for (i = 2; i <= m; i++)
				for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
		}' "$WORK/ring3.runs"
}

# ---- the table ----

get() { # vmm key (from all RESULT lines)
	awk -v v="$1" -v k="$2" '$1 == "RESULT" && $2 == v && $3 == k { $1 = $2 = $3 = ""; sub(/^ +/, ""); print; exit }' \
		"$WORK/results"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f", a / b; else print "-" }'
}

row() { # label vmm-a vmm-b key [no-ratio]
	local a b r
	a=$(get "$2" "$4")
	b=$(get "$3" "$4")
	r=$(ratio "$a" "$b")
	[ -n "${5:-}" ] && r=-
	echo "| $1 | ${a:-n/a} | ${b:-n/a} | $r |"
}

print_tables() {
	local ping_h ping_q
	ping_h=$(get hostvisor ping_stats | tr _ ' ')
	ping_q=$(get qemu ping_stats | tr _ ' ')
	echo
	echo "## (a) Linux guest, pcnet on a TAP, KVM $INNER_WHERE"
	echo
	echo "Default guest, 512 MiB, kernel $(get all kernel); iperf3 TCP $NET_BENCH_SECONDS s each way," \
		"$NET_BENCH_PINGS pings 0.2 s apart; exits counted with perf: $(get all perf)."
	echo
	echo "| figure | hostvisor | QEMU | ratio hv/QEMU |"
	echo "|---|---:|---:|---:|"
	row "iperf3 guest->host, Mbit/s (receiver)" hostvisor qemu up_mbps
	row "iperf3 host->guest (-R), Mbit/s (receiver)" hostvisor qemu down_mbps
	row "ping guest->host, median RTT of $NET_BENCH_PINGS, ms" hostvisor qemu ping_median_ms
	row "VMM CPU s per GB, guest->host (user+sys, guest time included)" hostvisor qemu up_cpu_per_gb
	row "VMM CPU s per GB, host->guest (user+sys, guest time included)" hostvisor qemu down_cpu_per_gb
	row "  same without the guest's own time, guest->host" hostvisor qemu up_vmm_cpu_per_gb
	row "  same without the guest's own time, host->guest" hostvisor qemu down_vmm_cpu_per_gb
	row "exits to the VMM per frame (whole run, boot included)" hostvisor qemu exits_per_frame
	row "  exits to the VMM per frame, guest->host window" hostvisor qemu up_exits_per_frame
	row "  exits to the VMM per frame, host->guest window" hostvisor qemu down_exits_per_frame
	row "  hardware exits per frame, guest->host window" hostvisor qemu up_hw_exits_per_frame
	row "  hardware exits per frame, host->guest window" hostvisor qemu down_hw_exits_per_frame
	row "  exits to the VMM, whole run (hostvisor: --stats)" hostvisor qemu stats_exits
	row "  exits to the VMM, whole run (perf kvm:kvm_userspace_exit)" hostvisor qemu perf_exits
	row "  hardware exits, whole run (perf kvm:kvm_exit)" hostvisor qemu perf_hw_exits
	row "  frames through the TAP, whole run" hostvisor qemu tap_frames
	row "TCP retransmits host->guest (host RetransSegs)" hostvisor qemu down_retrans
	row "  TAP transmit drops host->guest" hostvisor qemu down_tap_tx_drops
	row "TCP retransmits guest->host (guest iperf3 Retr)" hostvisor qemu up_guest_retr
	row "  GB through the TAP, guest->host window" hostvisor qemu up_gb
	row "  GB through the TAP, host->guest window" hostvisor qemu down_gb
	row "  VMM CPU s, guest->host window" hostvisor qemu up_cpu_s
	row "  VMM CPU s, host->guest window" hostvisor qemu down_cpu_s
	row "  boot to power-off, s" hostvisor qemu run_s
	echo
	echo "Pings: hostvisor ${ping_h:-none}; QEMU ${ping_q:-none}. Exit status: hostvisor" \
		"$(get hostvisor exit_status), QEMU $(get qemu exit_status), net_inner.sh $(get all inner_status)."
	echo
	echo "## (b) Ring-3 PCnet test guest on this host ($(uname -r)), $FRAMES frames each way," \
		"median of $RUNS runs"
	echo
	echo "| figure | hostvisor | QEMU | ratio hv/QEMU |"
	echo "|---|---:|---:|---:|"
	row "frames/s guest->host (guest TSC)" ring3-hostvisor ring3-qemu tx_fps
	row "frames/s host->guest (guest TSC)" ring3-hostvisor ring3-qemu rx_fps
	row "frames/s guest->host (peer clock)" ring3-hostvisor ring3-qemu peer_rx_fps
	row "frames/s host->guest (peer clock)" ring3-hostvisor ring3-qemu peer_tx_fps
	row "exits to the VMM per frame (whole run)" ring3-hostvisor ring3-qemu exits_per_frame
	row "  exits to the VMM (hostvisor: --stats)" ring3-hostvisor ring3-qemu stats_exits
	row "  exits to the VMM (perf kvm:kvm_userspace_exit)" ring3-hostvisor ring3-qemu perf_exits
	row "  frames through the TAP (data, acks, ready)" ring3-hostvisor ring3-qemu tap_frames
	row "  failed checks (guest and peer), all runs" ring3-hostvisor ring3-qemu failed_checks no-ratio
	echo
	echo "Exit status per run: hostvisor $(get ring3-hostvisor exit_status), QEMU $(get ring3-qemu exit_status)."
	echo
	echo "Total run time: $((SECONDS - START)) s. Logs: $LOGDIR/net-*."
}

main() {
	local need
	[ "$(id -u)" -eq 0 ] || { echo "net.sh: needs root (namespaces, TAPs)" >&2; exit 1; }
	for need in "$HV" "$ELF" "$BUILD/guest/vmlinuz" "$BUILD/guest/initrd.img"; do
		[ -e "$need" ] || { echo "net.sh: $need is missing (build first)" >&2; exit 1; }
	done
	for need in qemu-system-x86_64 ip python3 timeout; do
		command -v "$need" >/dev/null || { echo "net.sh: no $need" >&2; exit 1; }
	done
	[ -w /dev/kvm ] || { echo "net.sh: /dev/kvm is not usable" >&2; exit 1; }
	[ -c /dev/net/tun ] || { echo "net.sh: no /dev/net/tun" >&2; exit 1; }
	rm -f "$LOGDIR"/net-* 2>/dev/null
	echo "== (a) Linux guest" >&2
	run_linux_part
	echo "== (b) ring-3 test guest" >&2
	run_ring3_part >"$WORK/ring3.out"
	cat "$WORK/ring3.out" >&2
	cat "$WORK/inner.out" "$WORK/ring3.out" | grep '^RESULT ' >"$WORK/results"
	print_tables
}

main "$@"
