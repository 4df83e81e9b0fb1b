#!/usr/bin/env bash
# The PCnet network checks of tests/integration/net_pcnet.sh, which runs this file where KVM runs a
# kernel at speed: on the host itself, or inside the carrier (tests/carrier/run.sh) on a PVM host.
# It is not executable on purpose: tests/run.sh runs every executable tests/integration/*.sh on
# the host, and this file must go through net_pcnet.sh.
#
#   BUILD=build bash tests/integration/net_pcnet_checks.sh     (as root)
#
# The host side lives in network namespaces of its own, made here and deleted on exit whatever
# happens: "tap" holds the TAP hv0 (198.18.0.1/24; the guest is 198.18.0.2) and the servers the
# guest talks to; "user" holds nothing but its loopback, so the user-mode backend (libslirp), which
# turns the guest's connections into sockets of hostvisor's, can reach that loopback and nothing
# else, even with restrict=off. Only 198.18.0.0/15 addresses are used.
#
# Three boots of the default guest ($BUILD/guest, /init = guest/init) on the kvm engine print one
# line per check, "PASS: net/<check>", "FAIL: net/<check>: <reason>" or "SKIPPED: net/<check> (why)":
#   tap boot (--net pcnet,tap=hv0,mac=02:00:00:00:00:11)
#     probe        dmesg has the 79C970A with our MAC; ethtool eth0 says "Link detected: yes"
#     ping         200 pings guest -> host, 10 ms apart, none lost (RTT reported)
#     jumbo-ping   3 pings of 9000 bytes over the 1500-byte MTU: all answered, and the host's
#                  IP counters show it reassembled the guest's fragments and fragmented its replies
#     promisc      the host sends PROMISC_FRAMES frames to a foreign unicast MAC (AF_PACKET on the
#                  TAP) each time the guest asks: the guest's rx_packets grows by about that many
#                  with eth0 promiscuous, and not at all before and after (off, on, off again)
#     iperf3       5 s of TCP each way against an iperf3 server in the namespace (Mbit/s reported)
#   user boot (--net pcnet,user,capture=FILE; restrict=off in the "user" namespace)
#     user         (with the next boot) DHCP gives 198.18.64.15; a file served on the namespace's
#                  127.0.0.1 is fetched through the gateway 198.18.64.2 with busybox wget
#     capture      tshark reads the capture without complaint; it holds ICMP echo requests and
#                  replies of the guest's ping to the gateway
#   restrict boot (--net pcnet,user,restrict=on,hostfwd=tcp:HOSTFWD_PORT-:8080)
#     user         DHCP still works; the guest's own connection to the gateway fails and never
#                  reaches the server; the host reaches a server in the guest through the hostfwd
# restrict=on resets every connection the guest starts, the gateway's included (libslirp's
# restricted mode), so the fetch is tested without it, where the "user" namespace is the fence.
#
# Every wait is bounded (NET_PCNET_TIMEOUT seconds per boot, default 90). Serial output, stderr
# (with --stats), the servers' logs and the capture go to $BUILD/test-logs/net-*.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

BUILD=${BUILD:-build}
HV=$BUILD/hostvisor
LOGDIR=$BUILD/test-logs
BOOT_TIMEOUT=${NET_PCNET_TIMEOUT:-90}
CHECKS=(probe ping jumbo-ping promisc iperf3 user capture)

MAC=02:00:00:00:00:11
HOST_IP=198.18.0.1
GUEST_IP=198.18.0.2
GATEWAY=198.18.64.2 # the user-mode gateway: the namespace's 127.0.0.1
LEASE=198.18.64.15  # libslirp's first lease
IPERF_PORT=5201
BURST_PORT=18555    # the promisc frame sender, on HOST_IP
HTTP_PORT=18080     # the file server, on 127.0.0.1 of the "user" namespace
HOSTFWD_PORT=18022  # hostfwd's listening port, on 127.0.0.1 of the "user" namespace
GUEST_PORT=8080     # where the guest listens in the restrict boot
PROMISC_FRAMES=300
PINGS=200

# Logs are written to a local directory first: on the carrier, $BUILD is on virtio-9p.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/net-pcnet.XXXXXX") || exit 2
NS_TAP=hvnet-tap-$$
NS_USER=hvnet-user-$$
NAMESPACES=()
# Background processes this script started. They are started with a plain `ip netns exec`, which
# execs the command (no function, no subshell), so that $! is the process itself.
PIDS=()

failures=0
pass() { # check [detail]
	echo "PASS: net/$1${2:+ ($2)}"
}
fail() { # check reason
	echo "FAIL: net/$1: $2"
	failures=$((failures + 1))
}
skip() { # check reason
	echo "SKIPPED: net/$1 ($2)"
}

# Waits at most SECONDS for PID (a child of this shell) to end; SIGKILL after that. Sets
# EXIT_STATUS. Not in $(...): a subshell cannot wait for this shell's children.
EXIT_STATUS=
wait_exit() { # pid seconds
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt "$deadline" ]; do
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	EXIT_STATUS=$?
	untrack "$pid"
}

# Waits for PID (a child of this shell) without a time limit of its own (the child has one) and
# sets EXIT_STATUS; a signal to this script interrupts the wait and the trap ends the child.
wait_child() { # pid
	wait "$1"
	EXIT_STATUS=$?
	untrack "$1"
}

# Takes PID (reaped) off PIDS: its number may be reused by a process that is not ours.
untrack() { # pid
	local p keep=()
	for p in "${PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# Ends the background processes this script started (by PID), gently first.
stop_started() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		wait_exit "$pid" 5
	done
}

cleanup() {
	stop_started
	local ns f
	for ns in "${NAMESPACES[@]}"; do
		ip netns del "$ns" 2>/dev/null || echo "net_pcnet_checks: cannot delete namespace $ns" >&2
	done
	if mkdir -p "$LOGDIR" 2>/dev/null; then
		for f in "$WORK"/*.log "$WORK"/*.stderr "$WORK"/*.pcap; do
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

# Boots the guest inside NAMESPACE in the foreground with COM1 on $WORK/NAME.log and stderr on
# $WORK/NAME.stderr. Sets EXIT_STATUS to hostvisor's exit status (124: timed out).
run_guest() { # name namespace hostvisor-run-options...
	local name=$1 ns=$2 start=$SECONDS pid
	shift 2
	# In the background and waited for, so that a signal to this script is handled at once.
	ip netns exec "$ns" timeout -k 5 "$BOOT_TIMEOUT" "$HV" run --engine kvm --no-reboot --stats \
		"$@" </dev/null >"$WORK/$name.log" 2>"$WORK/$name.stderr" &
	pid=$!
	PIDS+=("$pid")
	wait_child "$pid"
	tr -d '\r' <"$WORK/$name.log" >"$WORK/$name.serial"
	echo "-- $name boot: $(status_text "$EXIT_STATUS") ($((SECONDS - start)) s)"
}

status_text() { # rc
	case $1 in
	124) echo "timed out after $BOOT_TIMEOUT s" ;;
	*) echo "hostvisor exited $1" ;;
	esac
}

# The lines of serial output file FILE between "@NAME" and the next "@" marker.
section() { # file name
	awk -v want="@$2" '/^@/ { on = ($0 == want); next } on' "$1"
}

# The last stderr lines of boot NAME on one line, for a FAIL message.
stderr_tail() { # name
	grep -v '^ ' "$WORK/$1.stderr" 2>/dev/null | grep -v '^hostvisor: statistics' | tail -3 |
		tr '\n' '|' | sed 's/|$//; s/|/ | /g'
}

one_line() { # text
	tr '\n' '|' <<<"$1" | sed 's/|$//; s/|/ | /g'
}

# Waits at most SECONDS until TCP PORT listens on ADDR inside NAMESPACE.
wait_listening() { # namespace addr port seconds
	local deadline=$((SECONDS + $4))
	while [ $SECONDS -lt "$deadline" ]; do
		in_ns "$1" ss -Hltn "src $2:$3" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# The host's IP counter NAME (ReasmOKs, FragOKs, ...) in NAMESPACE, from /proc/net/snmp.
ip_counter() { # namespace name
	in_ns "$1" cat /proc/net/snmp | awk -v want="$2" '
		$1 == "Ip:" && !seen { for (i = 2; i <= NF; i++) col[$i] = i; seen = 1; next }
		$1 == "Ip:" && seen { print $(col[want]); exit }'
}

# ---- host-side helpers (Python) ----

# The promisc frame sender: an HTTP server on ADDR:PORT whose every GET first sends COUNT frames
# to a foreign unicast MAC out of the TAP (AF_PACKET), 2 ms apart, then answers "SENT <n>". The
# frames go into the TAP's queue ahead of the answer, so when the guest has the answer it has
# been offered every frame. Ends after LIMIT seconds or 8 requests.
# shellcheck disable=SC2016 # Python, not shell
BURST_PY='
import socket, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

ifname, addr, port, count, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
deadline = time.monotonic() + limit
with open("/sys/class/net/%s/address" % ifname) as f:
    src = bytes.fromhex(f.read().strip().replace(":", ""))
dst = bytes.fromhex("020000000099")  # nobody: locally administered unicast
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind((ifname, 0))
served = 0

class Burst(BaseHTTPRequestHandler):
    def do_GET(self):
        global served
        sent = 0
        for i in range(count):
            frame = dst + src + b"\x88\xb5" + i.to_bytes(4, "big") + bytes(56)
            try:
                raw.send(frame)
                sent += 1
            except OSError as e:
                sys.stderr.write("send: %s\n" % e)
            time.sleep(0.002)
        body = ("SENT %d\n" % sent).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        served += 1
        sys.stderr.write("burst %d: sent %d frames\n" % (served, sent))
        sys.stderr.flush()

    def log_message(self, fmt, *args):
        pass

srv = HTTPServer((addr, port), Burst)
srv.timeout = 0.5
while time.monotonic() < deadline and served < 8:
    srv.handle_request()
'

# The hostfwd client: waits for MARKER in the serial log, then connects to 127.0.0.1:PORT until
# it receives something (the guest may not listen yet: slirp then closes the connection at once)
# and prints what it received. Exit status 1 on timeout.
# shellcheck disable=SC2016 # Python, not shell
HOSTFWD_PY='
import socket, sys, time

log, marker, port, limit = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    with open(log, "rb") as f:
        if marker in f.read():
            break
    time.sleep(0.1)
else:
    sys.stderr.write("no %r in the serial output\n" % marker)
    sys.exit(1)
tries = 0
while time.monotonic() < deadline:
    tries += 1
    data = b""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.settimeout(5)
        while len(data) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
    except OSError as e:
        sys.stderr.write("try %d: %s\n" % (tries, e))
    if data:
        sys.stdout.write(data.decode("utf-8", "replace"))
        sys.stderr.write("received %d bytes on try %d\n" % (len(data), tries))
        sys.exit(0)
    time.sleep(0.3)
sys.stderr.write("nothing received in %d tries\n" % tries)
sys.exit(1)
'

# ---- the tap boot: probe, ping, jumbo-ping, promisc, iperf3 ----

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

setup_tap_namespace() {
	ip netns add "$NS_TAP" || return 1
	NAMESPACES+=("$NS_TAP")
	in_ns "$NS_TAP" ip link set lo up &&
		in_ns "$NS_TAP" ip tuntap add hv0 mode tap &&
		# No IPv6 on the TAP: its router and multicast chatter would blur rx_packets.
		in_ns "$NS_TAP" sysctl -q -w net.ipv6.conf.hv0.disable_ipv6=1 &&
		in_ns "$NS_TAP" ip addr add "$HOST_IP/24" dev hv0 &&
		in_ns "$NS_TAP" ip link set hv0 up
}

start_tap_servers() {
	local limit=$((BOOT_TIMEOUT + 30))
	if [ ${#IPERF3[@]} -gt 0 ]; then
		# One server for both runs (-1 would need a restart between them, a race with the
		# guest's second run); ended by PID after the boot.
		ip netns exec "$NS_TAP" timeout "$limit" "${IPERF3[@]}" -s -B "$HOST_IP" -p "$IPERF_PORT" \
			>"$WORK/iperf3-server.log" 2>&1 &
		PIDS+=($!)
	fi
	ip netns exec "$NS_TAP" timeout "$limit" python3 -c "$BURST_PY" hv0 "$HOST_IP" "$BURST_PORT" \
		"$PROMISC_FRAMES" "$limit" >"$WORK/burst-server.log" 2>&1 &
	PIDS+=($!)
	wait_listening "$NS_TAP" "$HOST_IP" "$BURST_PORT" 20 || return 1
	[ ${#IPERF3[@]} -eq 0 ] || wait_listening "$NS_TAP" "$HOST_IP" "$IPERF_PORT" 20
}

# The dmesg lines the guest shows after all the traffic: the driver's, and any warning. Driver
# trouble (a transmit timeout from the watchdog, errors, a warning or oops) fails the probe check.
DMESG_AFTER='pcnet|eth0|netdev|warning:|bug:|call trace|oops|timed out'
DMESG_TROUBLE='timed out|error|fail|warning|bug:|call trace|oops|panic'

# Guest command of the tap boot (no double quotes or backslashes: guest/init's hv.run). dmesg is
# shown without the command line, which has these very words.
# shellcheck disable=SC2016 # expanded by the guest's shell
TAP_RUN='echo @DMESG; dmesg | grep -v -i command.line | grep pcnet32; echo @ADDR; cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu;'
TAP_RUN+=' echo @ETHTOOL; ethtool eth0;'
TAP_RUN+=" echo @PING; ping -c $PINGS -i 0.01 -w 60 -q $HOST_IP;"
TAP_RUN+=" echo @JUMBO; ping -c 3 -s 9000 -w 20 $HOST_IP;"
# shellcheck disable=SC2016
TAP_RUN+=' echo @PROMISC; r=/sys/class/net/eth0/statistics/rx_packets; for m in off on off; do'
# shellcheck disable=SC2016
TAP_RUN+=" ip link set eth0 promisc \$m; a=\$(cat \$r); timeout 30 wget -q -O - http://$HOST_IP:$BURST_PORT/;"
# shellcheck disable=SC2016
TAP_RUN+=' b=$(cat $r); echo PROMISC $m $a $b; done;'
TAP_RUN+=" echo @IPERF; timeout 40 iperf3 -c $HOST_IP -p $IPERF_PORT -t 5 -f m;"
TAP_RUN+=" echo @IPERF-R; timeout 40 iperf3 -c $HOST_IP -p $IPERF_PORT -t 5 -f m -R;"
TAP_RUN+=" echo @DMESG-AFTER; dmesg | grep -v -i command.line | grep -i -E '$DMESG_AFTER'; echo @END"

check_probe() { # rc
	local f=$WORK/tap.serial probe link addr trouble
	probe=$(section "$f" DMESG | grep -m1 -E 'pcnet32: .*79C970A at 0x[0-9a-f]+, ')
	trouble=$(section "$f" DMESG-AFTER | grep -i -E "$DMESG_TROUBLE" | sed 's/^\[ *[0-9.]*\] //')
	link=$(section "$f" ETHTOOL | grep -m1 'Link detected:' | sed 's/^[[:space:]]*//')
	addr=$(section "$f" ADDR | head -1)
	if [ -z "$probe" ]; then
		fail probe "no 'pcnet32: ... 79C970A at ...' line in dmesg; $(status_text "$1"); stderr: $(stderr_tail tap)"
	elif ! grep -qiF ", $MAC assigned IRQ" <<<"$probe"; then
		fail probe "dmesg has not our MAC $MAC: ${probe#*] }"
	elif [ "$addr" != "$MAC" ]; then
		fail probe "eth0's address is '$addr', want $MAC"
	elif [ "$link" != "Link detected: yes" ]; then
		fail probe "ethtool eth0 says '${link:-nothing about the link}'"
	elif ! grep -qx '@DMESG-AFTER' "$f"; then
		fail probe "the guest did not get to its final dmesg; $(status_text "$1"); stderr: $(stderr_tail tap)"
	elif [ -n "$trouble" ]; then
		fail probe "dmesg after the traffic: $(one_line "$(head -4 <<<"$trouble")")"
	else
		pass probe "$(sed 's/^\[ *[0-9.]*\] //; s/pcnet32: //' <<<"$probe"); $link; driver quiet after all the traffic"
	fi
}

check_ping() {
	local f=$WORK/tap.serial stats rtt
	stats=$(section "$f" PING | grep -m1 'packets transmitted')
	rtt=$(section "$f" PING | grep -m1 -o 'min/avg/max = [0-9./]* ms')
	if [ -z "$stats" ]; then
		fail ping "no ping statistics in the guest's output"
	elif ! grep -qx "$PINGS packets transmitted, $PINGS packets received, 0% packet loss" <<<"$stats"; then
		fail ping "$stats"
	else
		pass ping "$PINGS of $PINGS answered at 10 ms intervals, RTT $rtt"
	fi
}

check_jumbo() { # reasm-before reasm-after frag-before frag-after
	local f=$WORK/tap.serial stats replies mtu reasm=$(($2 - $1)) frag=$(($4 - $3))
	stats=$(section "$f" JUMBO | grep -m1 'packets transmitted')
	replies=$(section "$f" JUMBO | grep -c '^9008 bytes from')
	mtu=$(section "$f" ADDR | sed -n 2p)
	if [ -z "$stats" ]; then
		fail jumbo-ping "no ping statistics in the guest's output"
	elif [ "$replies" -ne 3 ] || ! grep -q ' 0% packet loss' <<<"$stats"; then
		fail jumbo-ping "$replies replies of 9008 bytes: $stats"
	elif [ "$reasm" -lt 3 ] || [ "$frag" -lt 3 ]; then
		fail jumbo-ping "answered, but the host reassembled $reasm and fragmented $frag datagrams (want 3 each)"
	else
		pass jumbo-ping "3 of 3 answered over MTU ${mtu:-?}; host reassembled $reasm, fragmented $frag datagrams; RTT $(section "$f" JUMBO | grep -o 'min/avg/max = [0-9./]* ms')"
	fi
}

# PROMISC <mode> <rx_packets before> <rx_packets after>, three lines: off, on, off.
check_promisc() {
	local f=$WORK/tap.serial lines mode before after delta sent want_min=$((PROMISC_FRAMES * 95 / 100))
	local noise=$((PROMISC_FRAMES / 10)) detail=() bad=()
	lines=$(section "$f" PROMISC | grep -E '^PROMISC (on|off) [0-9]+ [0-9]+$')
	sent=$(section "$f" PROMISC | grep -c "^SENT $PROMISC_FRAMES\$")
	if [ "$(grep -c . <<<"$lines")" -ne 3 ]; then
		fail promisc "want 3 PROMISC lines, got: $(one_line "$(section "$f" PROMISC | head -8)")"
		return
	fi
	if [ "$sent" -ne 3 ]; then
		fail promisc "the host did not send $PROMISC_FRAMES frames 3 times: $(one_line "$(cat "$WORK/burst-server.log")")"
		return
	fi
	while read -r _ mode before after; do
		delta=$((after - before))
		detail+=("$mode +$delta")
		if [ "$mode" = on ] && [ "$delta" -lt "$want_min" ]; then
			bad+=("promisc on: rx_packets +$delta for $PROMISC_FRAMES foreign frames")
		elif [ "$mode" = off ] && [ "$delta" -gt "$noise" ]; then
			bad+=("promisc off: rx_packets +$delta, foreign frames got through the address filter")
		fi
	done <<<"$lines"
	if [ ${#bad[@]} -gt 0 ]; then
		fail promisc "$(printf '%s; ' "${bad[@]}" | sed 's/; $//') (rx_packets: ${detail[*]})"
	else
		pass promisc "$PROMISC_FRAMES frames to 02:00:00:00:00:99 each time; rx_packets ${detail[*]} (off, on, off; the HTTP exchange adds a few)"
	fi
}

# The receiver's rate from the iperf3 client output in section NAME; empty when there is none.
iperf_rate() { # name
	section "$WORK/tap.serial" "$1" | awk '/ receiver$/ { for (i = 1; i < NF; i++) if ($(i + 1) == "Mbits/sec") print $i }' | tail -1
}

check_iperf3() {
	local up down err
	if [ ${#IPERF3[@]} -eq 0 ]; then
		skip iperf3 "no iperf3 for the host side: neither on PATH nor in $BUILD/guest/stage"
		return
	fi
	up=$(iperf_rate IPERF)
	down=$(iperf_rate IPERF-R)
	err=$(section "$WORK/tap.serial" IPERF; section "$WORK/tap.serial" IPERF-R)
	err=$(grep -m2 -i 'error' <<<"$err")
	if [ -n "$err" ]; then
		fail iperf3 "$(one_line "$err")"
	elif [ -z "$up" ] || [ -z "$down" ]; then
		fail iperf3 "no receiver rate (guest->host '${up:-none}', host->guest '${down:-none}')"
	elif awk -v a="$up" -v b="$down" 'BEGIN { exit !(a <= 0 || b <= 0) }'; then
		fail iperf3 "a zero rate: guest->host $up Mbit/s, host->guest $down Mbit/s"
	else
		pass iperf3 "5 s each way: guest->host $up Mbit/s, host->guest $down Mbit/s"
	fi
}

boot_tap() {
	local rc reasm0 frag0 reasm1 frag1 c
	if ! setup_tap_namespace; then
		for c in probe ping jumbo-ping promisc iperf3; do
			fail "$c" "cannot set up namespace $NS_TAP with TAP hv0"
		done
		return
	fi
	find_iperf3
	if ! start_tap_servers; then
		for c in probe ping jumbo-ping promisc iperf3; do
			fail "$c" "the host-side servers did not start: $(one_line "$(tail -3 "$WORK"/*-server.log)")"
		done
		return
	fi
	reasm0=$(ip_counter "$NS_TAP" ReasmOKs)
	frag0=$(ip_counter "$NS_TAP" FragOKs)
	run_guest tap "$NS_TAP" --net "pcnet,tap=hv0,mac=$MAC" \
		--append "hv.ip=$GUEST_IP/24 hv.run=\"$TAP_RUN\""
	rc=$EXIT_STATUS
	reasm1=$(ip_counter "$NS_TAP" ReasmOKs)
	frag1=$(ip_counter "$NS_TAP" FragOKs)
	stop_started
	check_probe "$rc"
	check_ping
	check_jumbo "${reasm0:-0}" "${reasm1:-0}" "${frag0:-0}" "${frag1:-0}"
	check_promisc
	check_iperf3
}

# ---- the user and restrict boots: user, capture ----

setup_user_namespace() {
	ip netns add "$NS_USER" || return 1
	NAMESPACES+=("$NS_USER")
	in_ns "$NS_USER" ip link set lo up
}

# shellcheck disable=SC2016 # expanded by the guest's shell
USER_RUN='echo @ADDR; ip -4 -o addr show dev eth0;'
USER_RUN+=" echo @FETCH; timeout 20 wget -q -O - http://$GATEWAY:$HTTP_PORT/token; echo WGET-STATUS \$?;"
USER_RUN+=" echo @PING; ping -c 3 -w 15 $GATEWAY; echo @END"

# restrict boot; TOKEN2 is substituted before the boot.
# shellcheck disable=SC2016
RESTRICT_RUN='echo @ADDR; ip -4 -o addr show dev eth0;'
RESTRICT_RUN+=" echo @FETCH; timeout 20 wget -q -O - http://$GATEWAY:$HTTP_PORT/token; echo WGET-STATUS \$?;"
RESTRICT_RUN+=" echo @SERVE; echo TOKEN2 >/tmp/f; echo SERVING;"
RESTRICT_RUN+=" timeout 40 nc -l -p $GUEST_PORT -e cat /tmp/f; echo SERVED \$?; echo @END"

# The number of requests for /token in the file server's log.
http_requests() {
	grep -c '"GET /token ' "$WORK/http-server.log" 2>/dev/null
}

# Sets USER_PROBLEMS (array) and USER_DETAIL from the user boot (restrict=off).
USER_PROBLEMS=()
USER_DETAIL=()
judge_user_boot() { # rc token
	local f=$WORK/user.serial addr got
	addr=$(section "$f" ADDR | grep -o 'inet [0-9./]*' | head -1)
	if [ "$addr" != "inet $LEASE/24" ]; then
		USER_PROBLEMS+=("restrict=off: eth0 has '${addr:-no address}', want DHCP's $LEASE/24 ($(status_text "$1"))")
	else
		USER_DETAIL+=("DHCP $LEASE")
	fi
	got=$(section "$f" FETCH | grep -v '^WGET-STATUS')
	if [ "$got" != "$2" ]; then
		USER_PROBLEMS+=("restrict=off: wget via $GATEWAY:$HTTP_PORT got '$(one_line "$got")', want '$2'")
	else
		USER_DETAIL+=("restrict=off: wget via $GATEWAY:$HTTP_PORT got the file")
	fi
}

judge_restrict_boot() { # rc token requests-before client-status client-output
	local f=$WORK/restrict.serial addr wget_status wget_said requests
	addr=$(section "$f" ADDR | grep -o 'inet [0-9./]*' | head -1)
	if [ "$addr" != "inet $LEASE/24" ]; then
		USER_PROBLEMS+=("restrict=on: eth0 has '${addr:-no address}', want DHCP's $LEASE/24 ($(status_text "$1"))")
	fi
	wget_status=$(section "$f" FETCH | sed -n 's/^WGET-STATUS //p')
	wget_said=$(section "$f" FETCH | grep -m1 '^wget: ' | sed 's/^wget: //')
	requests=$(($(http_requests) - $3))
	if [ -z "$wget_status" ]; then
		USER_PROBLEMS+=("restrict=on: the guest's wget did not report")
	elif [ "$wget_status" = 0 ] || [ "$requests" -gt 0 ]; then
		USER_PROBLEMS+=("restrict=on: the guest's own connection to $GATEWAY:$HTTP_PORT got through (wget status $wget_status, $requests request(s) at the server)")
	else
		USER_DETAIL+=("restrict=on: DHCP $LEASE, the guest's own connection failed (wget: ${wget_said:-status $wget_status}) and never reached the server")
	fi
	if [ "$4" -ne 0 ] || [ "$5" != "$2" ]; then
		USER_PROBLEMS+=("restrict=on: hostfwd 127.0.0.1:$HOSTFWD_PORT->guest:$GUEST_PORT gave '$(one_line "$5")' (client status $4: $(one_line "$(tail -2 "$WORK/hostfwd-client.log")"))")
	elif ! section "$f" SERVE | grep -qx 'SERVED 0'; then
		USER_PROBLEMS+=("restrict=on: the host got the file but the guest's nc did not end well: $(one_line "$(section "$f" SERVE)")")
	else
		USER_DETAIL+=("hostfwd tcp:$HOSTFWD_PORT-:$GUEST_PORT brought the guest's file")
	fi
}

# Ensures tshark reads the capture cleanly and finds echo requests and replies.
check_capture() { # rc
	local pcap=$WORK/user.pcap out err requests replies frames status
	if ! command -v tshark >/dev/null; then
		skip capture "no tshark on this host"
		return
	fi
	if [ ! -s "$pcap" ]; then
		fail capture "no capture file (or an empty one); $(status_text "$1"); stderr: $(stderr_tail user)"
		return
	fi
	out=$(timeout 120 tshark -n -r "$pcap" -T fields -e frame.number -e ip.src -e ip.dst \
		-e icmp.type 2>"$WORK/tshark.stderr")
	status=$?
	# tshark warns about running as root; that is not about the file.
	err=$(grep -v -e 'Running as user "root"' -e '^$' "$WORK/tshark.stderr")
	frames=$(grep -c . <<<"$out")
	requests=$(awk -F'\t' -v g="$LEASE" -v h="$GATEWAY" '$2 == g && $3 == h && $4 == "8"' <<<"$out" | grep -c .)
	replies=$(awk -F'\t' -v g="$LEASE" -v h="$GATEWAY" '$2 == h && $3 == g && $4 == "0"' <<<"$out" | grep -c .)
	if [ "$status" -ne 0 ] || [ -n "$err" ]; then
		fail capture "tshark -r exited $status: $(one_line "$(head -3 <<<"$err")")"
	elif [ "$requests" -lt 1 ] || [ "$replies" -lt 1 ]; then
		fail capture "$frames frames, $requests ICMP echo request(s) $LEASE->$GATEWAY and $replies reply(ies) back; $(status_text "$1")"
	else
		pass capture "tshark read $frames frames cleanly: $requests ICMP echo requests $LEASE->$GATEWAY, $replies replies"
	fi
}

boot_user() {
	local rc token token2 before client_status client_out client_pid hv_pid c
	if ! setup_user_namespace; then
		for c in user capture; do fail "$c" "cannot set up namespace $NS_USER"; done
		return
	fi
	token=hv-net-file-$RANDOM$RANDOM
	token2=hv-net-fwd-$RANDOM$RANDOM
	mkdir -p "$WORK/www" && echo "$token" >"$WORK/www/token"
	ip netns exec "$NS_USER" timeout $((3 * BOOT_TIMEOUT)) python3 -m http.server "$HTTP_PORT" \
		--bind 127.0.0.1 --directory "$WORK/www" >"$WORK/http-server.log" 2>&1 &
	PIDS+=($!)
	if ! wait_listening "$NS_USER" 127.0.0.1 "$HTTP_PORT" 20; then
		for c in user capture; do
			fail "$c" "the file server did not start: $(one_line "$(tail -3 "$WORK/http-server.log")")"
		done
		return
	fi

	run_guest user "$NS_USER" --net "pcnet,user,capture=$WORK/user.pcap" \
		--append "hv.dhcp hv.run=\"$USER_RUN\""
	rc=$EXIT_STATUS
	judge_user_boot "$rc" "$token"
	check_capture "$rc"

	# restrict=on: hostvisor in the background, the hostfwd client waiting for SERVING.
	before=$(http_requests)
	: >"$WORK/restrict.log"
	ip netns exec "$NS_USER" timeout -k 5 "$BOOT_TIMEOUT" "$HV" run --engine kvm --no-reboot --stats \
		--net "pcnet,user,restrict=on,hostfwd=tcp:$HOSTFWD_PORT-:$GUEST_PORT" \
		--append "hv.dhcp hv.run=\"${RESTRICT_RUN//TOKEN2/$token2}\"" \
		</dev/null >"$WORK/restrict.log" 2>"$WORK/restrict.stderr" &
	hv_pid=$!
	PIDS+=("$hv_pid")
	local start=$SECONDS
	ip netns exec "$NS_USER" timeout $((BOOT_TIMEOUT + 5)) python3 -c "$HOSTFWD_PY" \
		"$WORK/restrict.log" SERVING "$HOSTFWD_PORT" "$BOOT_TIMEOUT" \
		>"$WORK/hostfwd-client.out" 2>"$WORK/hostfwd-client.log" &
	client_pid=$!
	PIDS+=("$client_pid")
	wait_child "$client_pid"
	client_status=$EXIT_STATUS
	client_out=$(tr -d '\r' <"$WORK/hostfwd-client.out")
	wait_exit "$hv_pid" "$BOOT_TIMEOUT"
	rc=$EXIT_STATUS
	tr -d '\r' <"$WORK/restrict.log" >"$WORK/restrict.serial"
	echo "-- restrict boot: $(status_text "$rc") ($((SECONDS - start)) s)"
	judge_restrict_boot "$rc" "$token2" "$before" "$client_status" "$client_out"
	stop_started

	if [ ${#USER_PROBLEMS[@]} -gt 0 ]; then
		fail user "$(printf '%s; ' "${USER_PROBLEMS[@]}" | sed 's/; $//')"
	else
		pass user "$(printf '%s; ' "${USER_DETAIL[@]}" | sed 's/; $//')"
	fi
}

main() {
	local start=$SECONDS c missing=()
	if [ ! -x "$HV" ]; then
		echo "net_pcnet_checks: $HV is not built" >&2
		exit 2
	fi
	if [ "$(id -u)" -ne 0 ]; then
		for c in "${CHECKS[@]}"; do skip "$c" "network namespaces and TAPs need root"; done
		exit 0
	fi
	for c in ip python3 ss timeout; do
		command -v "$c" >/dev/null || missing+=("$c")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		for c in "${CHECKS[@]}"; do fail "$c" "missing on the host side: ${missing[*]}"; done
		exit 1
	fi
	boot_tap
	boot_user
	echo "net_pcnet_checks: $((SECONDS - start)) s for all boots"
	[ $failures -eq 0 ]
}

main "$@"
