#!/usr/bin/env bash
# The PCnet-PCI II end to end: the pcnet test guest (tests/guests/pcnet.c, built into
# $BUILD/tests/guests/pcnet.elf) on a TAP, against tests/guests/pcnet_peer.py on the host side,
# under hostvisor's kvm engine (--net pcnet,tap=hvt0) or under QEMU with KVM for comparison.
# Prints one line per check: "PASS: guests/pcnet.<check>", "FAIL: guests/pcnet.<check>: reason"
# or "SKIPPED: guests/pcnet (reason)".
#
#   BUILD=build tests/guests/pcnet.sh [--vmm hostvisor|qemu] [--tx N] [--rx M] [--timeout SECONDS]
#
# Network safety: everything happens in a namespace of this script's own (hvtest-PID), with one
# TAP (hvt0, 198.18.0.1/24 from the benchmarking range, IPv6 off so that the host sends nothing
# of its own); the namespace is deleted on exit, also on failure or interrupt. No other interface
# is touched. Every process is bounded by timeout(1); only processes this script started are
# ended, by PID. Needs root, /dev/net/tun and /dev/kvm; SKIPPED otherwise.
# Logs: $BUILD/test-logs/pcnet-<vmm>.log (serial), .stderr, -peer.log. Exit status 1 on a FAIL.
set -uo pipefail
ENGINE=${ENGINE:-kvm} # kvm or emu (then the checks are named guests-emu/...)
P=guests
[ "$ENGINE" = emu ] && P=guests-emu
cd "$(dirname "$0")/../.." || exit 2

BUILD=${BUILD:-build}
VMM=hostvisor
TX=10000
RX=10000
TIMEOUT=${GUEST_TIMEOUT:-180}
GUEST_MAC=02:48:56:00:00:10 # locally administered unicast (IEEE 802 U/L bit set)
TAP=hvt0
NS=hvtest-$$
PEER_PID=
VM_PID=

while [ $# -gt 0 ]; do
	case $1 in
	--vmm) VMM=$2; shift 2 ;;
	--tx) TX=$2; shift 2 ;;
	--rx) RX=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	-h | --help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "pcnet.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
case $VMM in
hostvisor | qemu) ;;
*) echo "pcnet.sh: --vmm is hostvisor or qemu" >&2; exit 2 ;;
esac

ELF=$BUILD/tests/guests/pcnet.elf
LOGDIR=$BUILD/test-logs
LOG=$LOGDIR/$P-pcnet-$VMM.log
ERRLOG=$LOGDIR/$P-pcnet-$VMM.stderr
PEERLOG=$LOGDIR/$P-pcnet-$VMM-peer.log

skip() {
	echo "!!! pcnet: $1: the PCnet end-to-end test is SKIPPED !!!" >&2
	echo "SKIPPED: $P/pcnet ($1)"
	exit 0
}

kvm_usable() {
	[ -c /dev/kvm ] && { exec 3<>/dev/kvm; } 2>/dev/null && exec 3>&-
}

# Ends what this script started (timeout(1) passes the SIGTERM on), then the namespace.
cleanup() {
	local pid
	for pid in $VM_PID $PEER_PID; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	ip netns del "$NS" 2>/dev/null
}

in_ns() {
	ip netns exec "$NS" "$@"
}

setup_namespace() {
	ip netns add "$NS" || return 1
	trap cleanup EXIT
	trap 'echo "FAIL: $P/pcnet: interrupted"; exit 130' INT TERM
	in_ns ip tuntap add dev "$TAP" mode tap || return 1
	# A kernel without IPv6 has no such switch, and nothing to switch off.
	in_ns sysctl -qw "net.ipv6.conf.$TAP.disable_ipv6=1" 2>/dev/null
	in_ns ip addr add 198.18.0.1/24 dev "$TAP" &&
		in_ns ip link set "$TAP" up
}

# Waits (bounded) for the peer's "PEER ready" line, so that no guest frame goes unheard.
start_peer() {
	# Not through in_ns: $! must be the process that becomes timeout(1) (ip netns exec execs it),
	# so that a SIGTERM to it reaches the peer; a function would run in a subshell.
	ip netns exec "$NS" timeout $((TIMEOUT + 10)) python3 tests/guests/pcnet_peer.py \
		--ifname "$TAP" --guest-mac "$GUEST_MAC" --tx "$TX" --rx "$RX" --timeout "$TIMEOUT" \
		>"$PEERLOG" 2>&1 &
	PEER_PID=$!
	for _ in $(seq 100); do
		grep -q '^PEER ready' "$PEERLOG" && return 0
		kill -0 "$PEER_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# The VM runs in the background with its PID kept, and this shell waits for it: bash runs its
# traps during a wait (not while a foreground command runs), so an interrupt ends the VM too.
run_vm() {
	local append="tx=$TX rx=$RX mac=0x${GUEST_MAC//:/} timeout=$((TIMEOUT > 20 ? TIMEOUT - 10 : 10))"
	local rc
	# QEMU 7.2 stores no valid FCS after received frames: check it on hostvisor only.
	[ "$VMM" = hostvisor ] && append+=" fcs=1"
	if [ "$VMM" = qemu ]; then
		ip netns exec "$NS" timeout "$TIMEOUT" qemu-system-x86_64 -enable-kvm -m 64 \
			-display none -vga none -monitor none -serial stdio -no-reboot -kernel "$ELF" \
			-append "$append" -netdev "tap,id=n0,ifname=$TAP,script=no,downscript=no" \
			-device "pcnet,netdev=n0,mac=$GUEST_MAC,romfile=" \
			</dev/null >"$LOG.raw" 2>"$ERRLOG" &
	else
		ip netns exec "$NS" timeout "$TIMEOUT" "$BUILD/hostvisor" run --engine "$ENGINE" \
			--kernel "$ELF" --append "$append" --net "pcnet,tap=$TAP,mac=$GUEST_MAC" \
			--mem 64M --no-reboot --serial stdio </dev/null >"$LOG.raw" 2>"$ERRLOG" &
	fi
	VM_PID=$!
	wait "$VM_PID"
	rc=$?
	VM_PID=
	tr -d '\r' <"$LOG.raw" >"$LOG"
	rm -f "$LOG.raw"
	return $rc
}

# The peer finishes on the guest's last acknowledgement. Once the VM is gone it gets 5 s to
# check what is still queued, then SIGTERM, on which it reports what it got.
wait_peer() {
	for _ in $(seq 50); do
		kill -0 "$PEER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$PEER_PID" 2>/dev/null; then
		echo "PEER still running 5 s after the VM exited: SIGTERM" >>"$PEERLOG"
		kill "$PEER_PID" 2>/dev/null
	fi
	wait "$PEER_PID" 2>/dev/null
	local rc=$?
	PEER_PID=
	return $rc
}

# "PASS x" / "FAIL x: why" lines of the guest and the peer, in the runner's form.
report_lines() { # file
	sed -n -e 's/^PASS \([^ ]*\)$/PASS: '"$P"'\/\1/p' \
		-e 's/^FAIL \([^:]*\): \(.*\)$/FAIL: '"$P"'\/\1: \2/p' "$1"
}

report() { # vm-rc peer-rc
	local rc=$1 prc=$2
	grep -E '^PCNET (tx|rx|interrupts|PROM|IRQ|first|bad FCS|after STOP)' "$LOG" |
		sed 's/^/    guest: /'
	grep -E '^PEER (guest|peer)' "$PEERLOG" | sed 's/^/    /'
	report_lines "$LOG"
	report_lines "$PEERLOG"
	if ! grep -qE '^(PASS|FAIL) pcnet\.peer\.' "$PEERLOG"; then
		echo "FAIL: $P/pcnet.peer: the peer reported nothing (exit $prc); its log:"
		tail -5 "$PEERLOG" | sed 's/^/    peer: /'
	fi
	if grep -q '^DONE pcnet ' "$LOG"; then
		echo "PASS: $P/pcnet.done"
	else
		echo "FAIL: $P/pcnet.done: the guest did not finish ($VMM exit $rc); last output:"
		tail -5 "$LOG" | sed 's/^/    serial: /'
		tail -5 "$ERRLOG" | sed 's/^/    stderr: /'
	fi
	if [ "$rc" -eq 0 ]; then
		echo "PASS: $P/pcnet.poweroff"
	elif [ "$rc" -eq 124 ]; then
		echo "FAIL: $P/pcnet.poweroff: timed out after $TIMEOUT s"
	else
		echo "FAIL: $P/pcnet.poweroff: $VMM exited $rc"
	fi
}

[ "$(id -u)" -eq 0 ] || skip "not root (a network namespace and a TAP need it)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
kvm_usable || skip "/dev/kvm is missing or not usable"
command -v ip >/dev/null || skip "no ip(8)"
command -v python3 >/dev/null || skip "no python3"
if [ "$VMM" = qemu ] && ! command -v qemu-system-x86_64 >/dev/null; then
	skip "no qemu-system-x86_64"
fi
for f in "$ELF" $([ "$VMM" = hostvisor ] && echo "$BUILD/hostvisor"); do
	if [ ! -f "$f" ]; then
		echo "FAIL: $P/pcnet: $f not built"
		exit 1
	fi
done
mkdir -p "$LOGDIR"
: >"$PEERLOG"

if ! setup_namespace; then
	echo "FAIL: $P/pcnet.setup: cannot create namespace $NS with TAP $TAP"
	exit 1
fi
if ! start_peer; then
	echo "FAIL: $P/pcnet.setup: the peer did not start; its log:"
	sed 's/^/    peer: /' "$PEERLOG"
	exit 1
fi
t0=$SECONDS
run_vm
rc=$?
wait_peer
prc=$?
echo "-- pcnet under $VMM: exit $rc after $((SECONDS - t0)) s, peer exit $prc, logs $LOG $PEERLOG"
report "$rc" "$prc" | tee "$LOGDIR/pcnet-$VMM-summary.txt"
! grep -q '^FAIL:' "$LOGDIR/pcnet-$VMM-summary.txt"
