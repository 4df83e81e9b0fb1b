#!/usr/bin/env bash
# Runs a command inside the carrier: a QEMU TCG machine whose CPU has SVM with nested paging, so
# that real KVM works inside it even where the host's /dev/kvm cannot run a guest kernel (PVM;
# DESIGN.md section 2). The carrier boots the default guest's kernel with its own /init, loads
# kvm_amd, mounts the host's root read-only and this repository read-write over virtio-9p, and runs
# COMMAND in the host's root with the repository as its working directory (same absolute path).
#
# usage: tests/carrier/run.sh [--timeout SEC] [--mem SIZE] [--interactive] -- COMMAND [ARG]...
#
# --interactive connects this terminal to COMMAND's input too (make run on a PVM host).
#
# COMMAND's output (stdout and stderr together) is streamed to stdout; run.sh exits with COMMAND's
# status, 124 on timeout, 125 when the carrier itself failed (its console is then shown on stderr).
# The carrier has no network device. Environment variables named in CARRIER_ENV (space-separated)
# are passed to COMMAND; CARRIER=1 is always set. CARRIER_VERBOSE=1 prints timings on stderr.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$REPO/tests/carrier
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
GUEST=$BUILD/guest
CARRIER=$BUILD/carrier

timeout=600
mem=2048M
interactive=
usage() {
	echo "usage: $0 [--timeout SEC] [--mem SIZE] [--interactive] -- COMMAND [ARG]..." >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--interactive) interactive=1; shift ;;
	--) shift; break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
case $REPO in *[[:space:]]*) echo "carrier: the repository path has a space: $REPO" >&2; exit 125 ;; esac

say() {
	if [ "${CARRIER_VERBOSE:-}" = 1 ]; then echo "carrier: $*" >&2; fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The carrier's initramfs: the default guest's, with this directory's init appended as a second
# archive (the kernel unpacks concatenated archives in order; a later /init replaces the first).
carrier_initrd() {
	if [ ! -f "$GUEST/initrd.img" ] || [ ! -f "$GUEST/vmlinux" ]; then
		"$REPO/guest/build.sh" "$GUEST"
	fi
	mkdir -p "$CARRIER"
	local out=$CARRIER/initrd.img
	if [ -f "$out" ] && [ "$out" -nt "$GUEST/initrd.img" ] && [ "$out" -nt "$HERE/init" ]; then
		return 0
	fi
	local tmp
	tmp=$(mktemp -d "$CARRIER/overlay.XXXXXX")
	install -m 0755 "$HERE/init" "$tmp/init"
	{
		cat "$GUEST/initrd.img"
		# An uncompressed archive must start 4-byte aligned; the kernel skips zeros between.
		head -c $((512 - $(stat -c %s "$GUEST/initrd.img") % 512)) /dev/zero
		(cd "$tmp" && echo init | cpio -o -H newc -R 0:0 --quiet)
	} >"$tmp.img"
	mv "$tmp.img" "$out"
	rm -rf "$tmp"
}

RUNDIR=
QEMU_PID=
WATCHDOG_PID=
cleanup() {
	[ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
		kill "$QEMU_PID" 2>/dev/null
		wait "$QEMU_PID" 2>/dev/null || true
	fi
	if [ -n "$RUNDIR" ]; then
		[ -f "$RUNDIR/console.log" ] && cp "$RUNDIR/console.log" "$CARRIER/last-console.log"
		rm -rf "$RUNDIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# The script the carrier runs inside the host's root (bash: printf %q quoting).
write_command_script() { # file args...
	local file=$1 name
	shift
	{
		echo "cd $(printf '%q' "$REPO") || exit 125"
		echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		echo "export HOME=/tmp LANG=C.UTF-8 TERM=dumb CARRIER=1"
		for name in ${CARRIER_ENV:-}; do
			[ -n "${!name+x}" ] && echo "export $name=$(printf '%q' "${!name}")"
		done
		printf 'exec'
		printf ' %q' "$@"
		echo
	} >"$file"
}

main() {
	local start status
	start=$(now)
	carrier_initrd
	RUNDIR=$(mktemp -d "$CARRIER/run.XXXXXX")
	write_command_script "$RUNDIR/cmd.sh" "$@"
	# Non-interactive runs keep QEMU off the terminal; interactive ones hand it over.
	local qemu_stdin=/dev/null
	[ -n "$interactive" ] && qemu_stdin=/dev/stdin

	# Console (ttyS0) to a file; ttyS1, the command's output, to our stdout. stdin is /dev/null so
	# QEMU leaves the terminal alone.
	qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m "$mem" \
		-display none -monitor none -no-reboot -nic none \
		-kernel "$GUEST/vmlinux" -initrd "$CARRIER/initrd.img" \
		-append "console=ttyS0 quiet loglevel=3 panic=-1 softlockup_panic=1 mitigations=off carrier.script=$RUNDIR/cmd.sh carrier.repo=$REPO${interactive:+ carrier.interactive=1}" \
		-serial "file:$RUNDIR/console.log" \
		-chardev stdio,id=cmdout,signal=off -serial chardev:cmdout \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$REPO,mount_tag=repo,security_model=none,multidevs=remap" \
		<"$qemu_stdin" &
	QEMU_PID=$!
	# The time limit: whichever ends first, QEMU or this sleep (which must not hold our stdout).
	# shellcheck disable=SC2217
	sleep "$timeout" </dev/null >/dev/null 2>&1 &
	WATCHDOG_PID=$!
	say "started QEMU (pid $QEMU_PID)"
	local timed_out=
	wait -n "$QEMU_PID" "$WATCHDOG_PID" || true
	if ! kill -0 "$WATCHDOG_PID" 2>/dev/null; then
		timed_out=1
		kill "$QEMU_PID" 2>/dev/null
	fi
	wait "$QEMU_PID" 2>/dev/null || true
	QEMU_PID=
	kill "$WATCHDOG_PID" 2>/dev/null || true
	wait "$WATCHDOG_PID" 2>/dev/null || true
	WATCHDOG_PID=

	local ready
	ready=$(sed -n 's/^CARRIER-READY \([0-9.]*\).*/\1/p' "$RUNDIR/console.log" | tr -d '\r')
	status=$(sed -n 's/^CARRIER-EXIT \([0-9]*\).*/\1/p' "$RUNDIR/console.log" | tr -d '\r')
	say "carrier ready at uptime ${ready:-?} s; done after $(elapsed "$start") s wall"
	if [ -n "$timed_out" ]; then
		echo "carrier: timed out after $timeout s; console:" >&2
		tail -20 "$RUNDIR/console.log" >&2
		return 124
	fi
	if [ -z "$status" ]; then
		echo "carrier: the carrier machine failed; console:" >&2
		tail -30 "$RUNDIR/console.log" >&2
		return 125
	fi
	return "$status"
}

main "$@"
