#!/usr/bin/env bash
# The Linux guest checks of tests/integration/linux_boot.sh, which runs this file where KVM runs a
# kernel at speed: on the host itself, or inside the carrier (tests/carrier/run.sh) on a PVM host;
# and of tests/integration/linux_emu.sh, which runs it with ENGINE=emu on the host itself.
# It is not executable on purpose: tests/run.sh runs every executable tests/integration/*.sh on
# the host, and this file must go through linux_boot.sh or linux_emu.sh.
#
#   BUILD=build [ENGINE=kvm|emu] bash tests/integration/linux_boot_checks.sh [BOOT...]
#
# Boots the default guest ($BUILD/guest, /init = guest/init; hostvisor picks the kernel: the
# vmlinuz on kvm, the ELF vmlinux through PVH on emu) on the engine ENGINE (default kvm) and
# prints one line per check, "PASS: P/<check>" or "FAIL: P/<check>: <reason>", where P is linux
# for kvm and linux-emu for emu:
#   boot, hv.run, cpus, hwclock, dmesg   one boot, --cpus 4 (emu: 2) --no-reboot, whose hv.run
#            command prints hwclock -r -u, a computed value, nproc, the cpuinfo count and the
#            whole dmesg
#   hv.run-status      hv.run="exit 3" prints HV-EXIT 3 and hostvisor exits 0
#   reboot-no-reboot   hv.run="reboot -f" --no-reboot: exit 0 and the "guest reset" stderr line
#   reboot             hv.run="reboot -f" without --no-reboot boots again; SIGTERM ends it (143)
#   input              COM1 on a UNIX socket, the console shell: typed input is echoed and run
# On emu every boot costs 10-20 s of host CPU, so the checks share four boots instead of six
# (BOOT "emu", the default there):
#   main     --cpus 2: the command above, then the workload of tests/integration/
#            linux_emu_checks.sh (smp-parallel, sha256sum, iperf3, date, dmesg-cpu, checked
#            in the same dmesg), ending with "exit 3": hv.run-status is checked on it too
#   console  input on the console shell with --no-reboot, which then types reboot -f:
#            reboot-no-reboot is checked on that reset
#   reboot   as above (two boots), run at the same time as console (one vCPU each, two
#            host cores)
# BOOT names a subset to run (main, run_status, reboot_no_reboot, reboot, input, and emu; the
# default is all five on kvm, emu on emu).
# Every wait is bounded: LINUX_BOOT_TIMEOUT seconds per boot on kvm (default 120),
# LINUX_EMU_BOOT_TIMEOUT on emu (default 90; the emu engine interprets every instruction:
# measured on an idle 2-core host, the main boot with its workload took 22 s, the console boot
# 17 s, the two reboot boots 27 s; a busy host has made boots 1.5 times slower). When
# LINUX_CHECKS_DEADLINE is set (seconds since the epoch, linux_emu.sh sets it) no boot runs past
# it. The serial output and stderr of each boot are copied to
# $BUILD/test-logs/P-<boot>.{log,stderr}.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

BUILD=${BUILD:-build}
HV=$BUILD/hostvisor
LOGDIR=$BUILD/test-logs
ENGINE=${ENGINE:-kvm}
case $ENGINE in
kvm)
	PREFIX=linux
	BOOT_TIMEOUT=${LINUX_BOOT_TIMEOUT:-120}
	EXPECTED_CPUS=4
	MAIN_STATUS=0 # hv.run-status has a boot of its own
	;;
emu)
	PREFIX=linux-emu
	BOOT_TIMEOUT=${LINUX_EMU_BOOT_TIMEOUT:-90}
	# Two vCPUs are enough for SMP (bring-up, IPIs, both CPUs running) and boot in half the
	# time of four on the interpreter.
	EXPECTED_CPUS=2
	MAIN_STATUS=3 # the main boot's command ends with exit 3: hv.run-status is checked on it
	;;
*)
	echo "linux_boot_checks: ENGINE=$ENGINE: expected kvm or emu" >&2
	exit 2
	;;
esac
DEADLINE=${LINUX_CHECKS_DEADLINE:-}
LIMIT=$BOOT_TIMEOUT # the bound of the boot under way (boot_limit)
NO_REBOOT_LINE='hostvisor: guest reset; exiting (--no-reboot)'

# Logs are written to a local directory first: on the carrier, $BUILD is on virtio-9p, where
# every small write is a round trip to the host.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/$PREFIX-boot.XXXXXX") || exit 2
HV_PID=     # the hostvisor running in the background for the console, if any
REBOOT_PID= # the one of the reboot check (on emu it runs beside the console boot), if any

cleanup() {
	local pid
	for pid in "$HV_PID" "$REBOOT_PID"; do
		[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
	done
	for pid in "$HV_PID" "$REBOOT_PID"; do
		[ -n "$pid" ] && wait_exit "$pid" 10
	done
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

# Waits at most SECONDS for PID (a child of this shell) to end and sets EXIT_STATUS to its exit
# status; one that does not end in time gets SIGKILL (status 137). Not in $(...): a subshell
# cannot wait for this shell's children.
EXIT_STATUS=
wait_exit() { # pid seconds
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt "$deadline" ]; do
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	EXIT_STATUS=$?
	if [ "$pid" = "$HV_PID" ]; then HV_PID=; fi
	if [ "$pid" = "$REBOOT_PID" ]; then REBOOT_PID=; fi
}

# Sets LIMIT to the seconds the next boot may take: BOOT_TIMEOUT, or less when the deadline
# (LINUX_CHECKS_DEADLINE) is nearer; at least 1.
boot_limit() {
	LIMIT=$BOOT_TIMEOUT
	[ -n "$DEADLINE" ] || return 0
	local left=$((DEADLINE - $(date +%s)))
	[ "$left" -lt "$LIMIT" ] && LIMIT=$left
	[ "$LIMIT" -ge 1 ] || LIMIT=1
}

# Says so when the deadline made the bound of the boot under way shorter than BOOT_TIMEOUT.
limit_note() {
	[ "$LIMIT" -ge "$BOOT_TIMEOUT" ] || echo " (cut short by LINUX_CHECKS_DEADLINE)"
}

# Prefixes each line with the host clock when it arrived (seconds since the epoch), so that the
# guest's RTC can be compared with the host clock at the moment the guest printed it.
STAMP_PY='
import sys, time
for raw in sys.stdin.buffer:
    line = raw.rstrip(b"\r\n").replace(b"\r", b"").decode("utf-8", "replace")
    sys.stdout.write("%.3f %s\n" % (time.time(), line))
    sys.stdout.flush()
'

# Boots the guest in the foreground with COM1 on stdout; $WORK/NAME.log gets the stamped serial
# output, $WORK/NAME.stderr hostvisor's stderr. Returns hostvisor's exit status (124: timed out).
run_guest() { # name hostvisor-run-options...
	local name=$1 start=$SECONDS
	shift
	boot_limit
	timeout -k 5 "$LIMIT" "$HV" run --engine "$ENGINE" "$@" </dev/null \
		2>"$WORK/$name.stderr" | python3 -c "$STAMP_PY" >"$WORK/$name.log"
	local rc=${PIPESTATUS[0]}
	echo "-- $name: $(status_text "$rc") after $((SECONDS - start)) s"
	return "$rc"
}

# The serial output of boot NAME without the arrival stamps.
serial() { # name
	cut -d' ' -f2- "$WORK/$1.log"
}

status_text() { # rc
	case $1 in
	124) echo "timed out after $LIMIT s$(limit_note)" ;;
	*) echo "hostvisor exited $1" ;;
	esac
}

# The last stderr lines of boot NAME on one line, for a FAIL message.
stderr_tail() { # name
	tail -3 "$WORK/$1.stderr" 2>/dev/null | tr '\n' '|' | sed 's/|$//; s/|/ | /g'
}

# ---- boot, hv.run, cpus, hwclock, dmesg: one boot ----

# The guest's command: no double quotes (hv.run="..." ends at the first one) and, with
# console=ttyS0 quiet, at most 2047 bytes (the kernel's command line; main checks that).
# A clock read at a random point of its second is up to 1 s behind, which a +-2 s check cannot
# afford on top of the RTC's own second: nextsec CMD... runs CMD until its output changes (for at
# most 2 s of uptime) and prints that output, read just after the clock ticked.
# shellcheck disable=SC2016 # expanded by the guest's shell
MAIN_RUN='nextsec() { a=$($@ | tr \  _); read t0 _ </proc/uptime; while b=$($@ | tr \  _);'
# shellcheck disable=SC2016
MAIN_RUN+=' [ $b = $a ]; do read t _ </proc/uptime; [ ${t%.*} -gt $((${t0%.*}+2)) ] && break;'
# shellcheck disable=SC2016
MAIN_RUN+=' done; echo $b | tr _ \ ; };'
# shellcheck disable=SC2016
MAIN_RUN+=' nextsec hwclock -r -u; echo RUN-OUT-$((6*7)); echo NPROC $(nproc);'
# shellcheck disable=SC2016
MAIN_RUN+=' echo CPUINFO $(grep -c ^processor /proc/cpuinfo);'
if [ "$ENGINE" = emu ]; then
	# shellcheck source=tests/integration/linux_emu_checks.sh
	. tests/integration/linux_emu_checks.sh
	MAIN_RUN+=" $EMU_RUN"
fi
# The dmesg comes last, so that it has whatever the work before it provoked.
MAIN_RUN+=' echo DMESG-BEGIN; dmesg; echo DMESG-END'
[ "$MAIN_STATUS" -eq 0 ] || MAIN_RUN+="; exit $MAIN_STATUS"

check_boot_and_run() { # rc
	local rc=$1 out=$WORK/main.serial
	if grep -q 'HV-BOOTED [0-9]' "$out"; then
		pass boot "$(grep -o 'HV-BOOTED [0-9.]*' "$out" | head -1) s uptime"
	else
		fail boot "no HV-BOOTED line; $(status_text "$rc"); stderr: $(stderr_tail main)"
	fi
	if ! grep -qx 'RUN-OUT-42' "$out"; then
		fail hv.run "the command's output (RUN-OUT-42) is missing; $(status_text "$rc")"
	elif ! grep -qx "HV-EXIT $MAIN_STATUS" "$out"; then
		fail hv.run "no 'HV-EXIT $MAIN_STATUS' line (got: $(grep -o 'HV-EXIT.*' "$out" | head -1))"
	elif [ "$rc" -ne 0 ]; then
		fail hv.run "$(status_text "$rc") after HV-EXIT $MAIN_STATUS; stderr: $(stderr_tail main)"
	else
		pass hv.run "output, HV-EXIT $MAIN_STATUS, exit status 0"
	fi
}

check_cpus() { # serial-file dmesg-file
	local nproc cpuinfo
	nproc=$(sed -n 's/^NPROC \([0-9]*\)$/\1/p' "$1" | head -1)
	cpuinfo=$(sed -n 's/^CPUINFO \([0-9]*\)$/\1/p' "$1" | head -1)
	if [ "$nproc" != "$EXPECTED_CPUS" ] || [ "$cpuinfo" != "$EXPECTED_CPUS" ]; then
		fail cpus "--cpus $EXPECTED_CPUS: nproc says '${nproc:-nothing}', /proc/cpuinfo has '${cpuinfo:-nothing}' processors"
	elif ! grep -q "smp: Brought up 1 node, $EXPECTED_CPUS CPUs" "$2"; then
		fail cpus "dmesg lacks 'Brought up 1 node, $EXPECTED_CPUS CPUs': $(grep -m1 'smp: Brought up' "$2")"
	else
		pass cpus "nproc, cpuinfo and dmesg say $EXPECTED_CPUS"
	fi
}

# busybox hwclock -r -u prints the RTC as "Sat Nov 21 20:50:26 2026  0.000000 seconds" in the
# guest's local time, which is UTC (no TZ in the guest); nextsec printed it just after the RTC's
# second changed, so the host clock should be later by the latency of the serial line plus how far
# the RTC's seconds lag the host's (less than 1 s: the RTC starts from time(NULL)).
check_hwclock() {
	local line stamp text rtc diff
	line=$(grep -m1 -E '^[0-9.]+ [A-Z][a-z]{2} [A-Z][a-z]{2} +[0-9]{1,2} [0-9:]{8} [0-9]{4}( |$)' \
		"$WORK/main.log")
	if [ -z "$line" ]; then
		fail hwclock "no hwclock line in the guest's output"
		return
	fi
	stamp=${line%% *}
	text=${line#* }
	text=${text%%  *}
	if ! rtc=$(TZ=UTC date -u -d "$text" +%s 2>/dev/null); then
		fail hwclock "cannot parse the guest's '$text'"
		return
	fi
	diff=$(awk -v a="$stamp" -v b="$rtc" 'BEGIN { printf "%.3f", a - b }')
	if awk -v d="$diff" 'BEGIN { exit !(d >= -2 && d <= 2) }'; then
		pass hwclock "guest RTC '$text' UTC, host clock ${diff} s later"
	else
		fail hwclock "guest RTC '$text' UTC is $diff s off the host's $(TZ=UTC date -u -d "@$stamp" '+%F %T')"
	fi
}

# Lines of dmesg that are not a problem although they match the patterns below.
# - PCI0 (PNP0A03) has no MMCONFIG: the i440FX/PIIX3 host bridge has no enhanced configuration
#   mechanism and hostvisor rightly provides no MCFG table; the kernel notes it at info level.
DMESG_BENIGN='acpi PNP0A03:[0-9]+: fail to add MMCONFIG information'
DMESG_SUBSYSTEMS='i8042|serial|8250|ttyS|rtc|ACPI|IOAPIC|APIC|PCI|clocksource|timer|tsc'
# Besides the usual words: an interrupt storm (8250 "too much work for irq", "nobody cared"),
# timeouts and lost interrupts or ticks, which point at a device model.
DMESG_TROUBLE='warning|call trace|error|fail|too much work|nobody cared|timed out|lost'
# A kernel warning, BUG or oops is a problem whatever it mentions.
DMESG_OOPS='WARNING: CPU|\<BUG:|Call Trace:|Oops|general protection fault|Kernel panic'

# The dmesg lines check_dmesg objects to, in dmesg order.
dmesg_offending() { # dmesg-file
	{
		grep -n -iE "$DMESG_TROUBLE" "$1" | grep -iE "$DMESG_SUBSYSTEMS"
		grep -n -E '\<BUG\>' "$1" | grep -iE "$DMESG_SUBSYSTEMS"
		grep -n -E "$DMESG_OOPS" "$1"
	} | sort -t: -k1,1n -u | cut -d: -f2- | grep -vE "$DMESG_BENIGN"
}

check_dmesg() { # dmesg-file
	local f=$1 offending missing=() what
	if [ ! -s "$f" ]; then
		fail dmesg "no dmesg output between DMESG-BEGIN and DMESG-END"
		return
	fi
	offending=$(dmesg_offending "$f")
	grep -qE 'ttyS0 at I/O 0x3f8 \(irq = 4, base_baud = [0-9]+\) is a 16550A' "$f" ||
		missing+=("8250: ttyS0 at I/O 0x3f8 irq 4 is a 16550A")
	grep -qE 'rtc_cmos [^ ]+: registered as rtc0' "$f" || missing+=("rtc_cmos: registered as rtc0")
	grep -qF 'serio: i8042 KBD port at 0x60,0x64 irq 1' "$f" ||
		missing+=("serio: i8042 KBD port at 0x60,0x64 irq 1")
	grep -qF 'ACPI: Interpreter enabled' "$f" || missing+=("ACPI: Interpreter enabled")
	if [ -z "$offending" ] && [ ${#missing[@]} -eq 0 ]; then
		pass dmesg "$(wc -l <"$f") lines: ttyS0 16550A, rtc0, i8042 KBD, ACPI clean"
		return
	fi
	what=
	if [ -n "$offending" ]; then
		what="$(wc -l <<<"$offending") offending line(s): $(head -5 <<<"$offending" |
			sed 's/^\[ *[0-9.]*\] //' | tr '\n' '|' | sed 's/|$//; s/|/ | /g')"
	fi
	if [ ${#missing[@]} -gt 0 ]; then
		what+="${what:+; }missing: $(printf '%s | ' "${missing[@]}" | sed 's/ | $//')"
	fi
	fail dmesg "$what"
}

check_main() {
	local rc append="console=ttyS0 quiet hv.run=\"$MAIN_RUN\""
	if [ ${#append} -ge 2048 ]; then
		echo "linux_boot_checks: the main command line is ${#append} bytes, the kernel keeps 2047" >&2
		exit 2
	fi
	run_guest main --cpus "$EXPECTED_CPUS" --no-reboot --append "hv.run=\"$MAIN_RUN\""
	rc=$?
	serial main >"$WORK/main.serial"
	sed -n '/^DMESG-BEGIN$/,/^DMESG-END$/p' "$WORK/main.serial" | sed '1d; $d' >"$WORK/main.dmesg"
	grep -qx 'DMESG-END' "$WORK/main.serial" || : >"$WORK/main.dmesg"
	check_boot_and_run "$rc"
	[ "$MAIN_STATUS" -eq 0 ] || report_run_status main "$rc" RUN-OUT-42
	check_cpus "$WORK/main.serial" "$WORK/main.dmesg"
	check_hwclock
	check_dmesg "$WORK/main.dmesg"
	[ "$ENGINE" != emu ] || emu_checks main "$rc"
}

# ---- hv.run-status ----

# The command of boot NAME printed LINE and ended with exit 3.
report_run_status() { # name rc line
	local serial=$WORK/$1.serial
	if ! grep -qx "$3" "$serial"; then
		fail hv.run-status "the command's output ($3) is missing; $(status_text "$2")"
	elif ! grep -qx 'HV-EXIT 3' "$serial"; then
		fail hv.run-status "no 'HV-EXIT 3' (got: $(grep -o 'HV-EXIT.*' "$serial" | head -1))"
	elif [ "$2" -ne 0 ]; then
		fail hv.run-status "$(status_text "$2"); stderr: $(stderr_tail "$1")"
	else
		pass hv.run-status "exit 3 gives HV-EXIT 3, exit status 0"
	fi
}

check_run_status() {
	local rc
	run_guest status --no-reboot --append 'hv.run="echo FAILING; exit 3"'
	rc=$?
	serial status >"$WORK/status.serial"
	report_run_status status "$rc" FAILING
}

# ---- reboot-no-reboot, reboot ----

check_reboot_no_reboot() {
	local rc boots
	run_guest noreboot --no-reboot --append 'hv.run="reboot -f"'
	rc=$?
	boots=$(serial noreboot | grep -c 'HV-BOOTED')
	if [ "$rc" -ne 0 ]; then
		fail reboot-no-reboot "$(status_text "$rc"); stderr: $(stderr_tail noreboot)"
	elif ! grep -qxF "$NO_REBOOT_LINE" "$WORK/noreboot.stderr"; then
		fail reboot-no-reboot "stderr lacks '$NO_REBOOT_LINE' (has: $(stderr_tail noreboot))"
	elif [ "$boots" -ne 1 ]; then
		fail reboot-no-reboot "$boots HV-BOOTED lines, want 1"
	else
		pass reboot-no-reboot "exit 0 with the guest-reset line"
	fi
}

# Without --no-reboot, reboot -f resets the machine and the guest boots again (and reboots again,
# since the command line is the same): stop it with SIGTERM after the second HV-BOOTED.
# reboot_start starts it in the background, reboot_finish waits for it and checks.
REBOOT_DEADLINE=0
REBOOT_WINDOW=0
REBOOT_START=0
reboot_start() {
	boot_limit
	REBOOT_WINDOW=$((2 * LIMIT)) # two boots, and not past the deadline
	if [ -n "$DEADLINE" ] && [ "$REBOOT_WINDOW" -gt $((DEADLINE - $(date +%s))) ]; then
		REBOOT_WINDOW=$((DEADLINE - $(date +%s)))
		[ "$REBOOT_WINDOW" -ge 1 ] || REBOOT_WINDOW=1
	fi
	REBOOT_START=$SECONDS
	REBOOT_DEADLINE=$((SECONDS + REBOOT_WINDOW))
	"$HV" run --engine "$ENGINE" --append 'hv.run="reboot -f"' </dev/null >"$WORK/reboot.log" \
		2>"$WORK/reboot.stderr" &
	REBOOT_PID=$!
}

reboot_finish() {
	local log=$WORK/reboot.log boots=0 rc
	while [ $SECONDS -lt "$REBOOT_DEADLINE" ] && kill -0 "$REBOOT_PID" 2>/dev/null; do
		boots=$(grep -c 'HV-BOOTED' "$log")
		[ "$boots" -ge 2 ] && break
		sleep 0.2
	done
	boots=$(grep -c 'HV-BOOTED' "$log")
	if [ "$boots" -lt 2 ]; then
		if kill -0 "$REBOOT_PID" 2>/dev/null; then
			kill -TERM "$REBOOT_PID"
			wait_exit "$REBOOT_PID" 10
			fail reboot "$boots HV-BOOTED line(s) after $REBOOT_WINDOW s, want 2$(limit_note)"
		else
			wait_exit "$REBOOT_PID" 1
			rc=$EXIT_STATUS
			fail reboot "hostvisor exited $rc after $boots boot(s); stderr: $(stderr_tail reboot)"
		fi
		return
	fi
	echo "-- reboot: second HV-BOOTED after $((SECONDS - REBOOT_START)) s"
	kill -TERM "$REBOOT_PID"
	wait_exit "$REBOOT_PID" 20
	rc=$EXIT_STATUS
	if [ "$rc" -ne 143 ]; then
		fail reboot "after SIGTERM hostvisor exited $rc, want 143; stderr: $(stderr_tail reboot)"
	else
		pass reboot "booted twice, SIGTERM gave 143"
	fi
}

check_reboot() {
	reboot_start
	reboot_finish
}

# ---- input ----

# Talks to the console shell on the COM1 socket: waits for HV-BOOTED and the prompt, types a
# command, expects its echo and its output, then types LEAVE (default exit) and waits for the
# socket to close. Exit status 0 when all went well, else 1 with the reason on stdout.
# Everything received goes to LOG. With a PID (emu), it stops waiting for the socket as soon as
# that process has ended.
# shellcheck disable=SC2016 # Python, not shell
INPUT_PY='
import re, select, socket, sys, time

path, log_path, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
watch_pid = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else 0
leave = sys.argv[5].encode() if len(sys.argv) > 5 else b"exit"
deadline = time.monotonic() + limit
log = open(log_path, "wb")
buf = bytearray()
TYPED = b"echo TYPED-$((6*7))"

def fail(msg):
    print(msg)
    sys.exit(1)

def process_gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True

def connect():
    while time.monotonic() < deadline:
        if watch_pid and process_gone(watch_pid):
            fail("hostvisor ended before the COM1 socket accepted a connection")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            time.sleep(0.05)
    fail("cannot connect to the COM1 socket within %g s" % limit)

sock = connect()

def receive(wait):
    """Reads what arrives within WAIT seconds; False when nothing did."""
    ready, _, _ = select.select([sock], [], [], wait)
    if not ready:
        return False
    data = sock.recv(4096)
    if not data:
        raise EOFError
    buf.extend(data)
    log.write(data)
    log.flush()
    return True

def wait_for(done, what, settle=0.0):
    """Receives until done() holds and nothing more arrived for SETTLE seconds."""
    last = time.monotonic()
    while not (done() and time.monotonic() - last >= settle):
        if time.monotonic() >= deadline:
            fail("timed out waiting for %s; last output %r" % (what, bytes(buf[-100:])))
        try:
            if receive(0.1):
                last = time.monotonic()
        except EOFError:
            fail("the socket closed while waiting for %s; last output %r"
                 % (what, bytes(buf[-100:])))

def prompt_after(start):
    # The shell may follow its prompt with a cursor position query (ESC [ 6 n).
    return lambda: re.search(rb"# $", re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"",
                                              bytes(buf[start:]))) is not None

wait_for(lambda: b"HV-BOOTED" in buf, "HV-BOOTED")
wait_for(prompt_after(buf.index(b"HV-BOOTED")), "the shell prompt", settle=0.5)
mark = len(buf)
sock.sendall(TYPED + b"\n")
wait_for(lambda: re.search(rb"(^|\n)TYPED-42\r?\n", bytes(buf[mark:])) is not None,
         "the output TYPED-42")
if TYPED not in buf[mark:]:
    fail("TYPED-42 came but the typed characters were not echoed: %r" % bytes(buf[mark:]))
wait_for(prompt_after(mark + bytes(buf[mark:]).index(b"TYPED-42")), "the second prompt",
         settle=0.3)
sock.sendall(leave + b"\n")
try:
    while time.monotonic() < deadline:
        receive(0.2)
except EOFError:
    pass
'

# Boots NAME with COM1 on a UNIX socket and --no-reboot, and runs INPUT_PY on it, which leaves
# the shell with LEAVE. CLIENT_REASON is empty when the session went as planned, else why not;
# EXIT_STATUS is hostvisor's.
CLIENT_REASON=
console_session() { # name leave
	local name=$1 sock=$WORK/com1.sock start=$SECONDS watch=
	boot_limit
	"$HV" run --engine "$ENGINE" --no-reboot --serial "unix:$sock" </dev/null \
		>"$WORK/$name.stdout" 2>"$WORK/$name.stderr" &
	HV_PID=$!
	[ "$ENGINE" = kvm ] || watch=$HV_PID
	if CLIENT_REASON=$(python3 -c "$INPUT_PY" "$sock" "$WORK/$name.log" "$LIMIT" "$watch" "$2" 2>&1); then
		CLIENT_REASON=
		# The client waits for the socket to close, so hostvisor should be gone or nearly.
		wait_exit "$HV_PID" 30
		echo "-- $name: hostvisor exited $EXIT_STATUS after $((SECONDS - start)) s"
	else
		CLIENT_REASON=${CLIENT_REASON:-the client failed}
		kill -TERM "$HV_PID" 2>/dev/null
		wait_exit "$HV_PID" 10
	fi
}

check_input() {
	console_session input exit
	if [ -n "$CLIENT_REASON" ]; then
		fail input "$CLIENT_REASON (hostvisor exited $EXIT_STATUS)$(limit_note)"
	elif [ "$EXIT_STATUS" -ne 0 ]; then
		fail input "after typing exit, hostvisor exited $EXIT_STATUS, want 0; stderr: $(stderr_tail input)"
	else
		pass input "typed line echoed and run (TYPED-42), exit powered off, status 0"
	fi
}

# input, then reboot -f typed on the same console with --no-reboot: reboot-no-reboot.
check_console_no_reboot() {
	local rc boots
	console_session console 'reboot -f'
	rc=$EXIT_STATUS
	if [ -n "$CLIENT_REASON" ]; then
		fail input "$CLIENT_REASON (hostvisor exited $rc)$(limit_note)"
		fail reboot-no-reboot "not tried: the console session failed (see input)"
		return
	fi
	pass input "typed line echoed and run (TYPED-42)"
	boots=$(grep -c 'HV-BOOTED' "$WORK/console.log")
	if [ "$rc" -ne 0 ]; then
		fail reboot-no-reboot "after typing reboot -f, hostvisor exited $rc, want 0; stderr: $(stderr_tail console)"
	elif ! grep -qxF "$NO_REBOOT_LINE" "$WORK/console.stderr"; then
		fail reboot-no-reboot "stderr lacks '$NO_REBOOT_LINE' (has: $(stderr_tail console))"
	elif [ "$boots" -ne 1 ]; then
		fail reboot-no-reboot "$boots HV-BOOTED lines, want 1"
	else
		pass reboot-no-reboot "reboot -f typed on the console: exit 0 with the guest-reset line"
	fi
}

# The emu plan (see the top): four boots, the last two at the same time.
check_emu() {
	check_main
	reboot_start
	check_console_no_reboot
	reboot_finish
}

main() {
	local start=$SECONDS
	if [ ! -x "$HV" ]; then
		echo "linux_boot_checks: $HV is not built" >&2
		exit 2
	fi
	local boots=("$@") boot
	if [ $# -eq 0 ]; then
		boots=(main run_status reboot_no_reboot reboot input)
		[ "$ENGINE" = kvm ] || boots=(emu)
	fi
	for boot in "${boots[@]}"; do
		case $boot in
		main | run_status | reboot_no_reboot | reboot | input | emu) "check_$boot" ;;
		*) echo "linux_boot_checks: unknown boot $boot" >&2; exit 2 ;;
		esac
	done
	echo "linux_boot_checks: $((SECONDS - start)) s for all boots"
	[ $failures -eq 0 ]
}

main "$@"
