#!/usr/bin/env bash
# Boots the default guest under QEMU TCG (the reference the guest must work on before hostvisor
# does) and checks its /init: HV-BOOTED, hv.run in its three quoting forms, HV-EXIT with the
# command's status, power-off, hv.ip with and without a NIC, hv.dhcp, device modules, the tools,
# and the interactive shell. Prints "PASS: name" / "FAIL: name" lines and the boot times.
#
# usage: guest/test.sh [GUESTDIR]     (default build/guest; built if missing)
# The NICs use QEMU's user network with restrict=on (no traffic leaves QEMU), addresses from
# 198.18.0.0/24.
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
GUEST=${1:-$REPO/build/guest}
[ -f "$GUEST/initrd.img" ] || "$REPO/guest/build.sh" "$GUEST" || exit 1
WORK=$(mktemp -d)
QEMU_PID=
WRITER_PID=
cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
	[ -n "$WRITER_PID" ] && kill "$WRITER_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
pass() { echo "PASS: $1"; }
fail() {
	echo "FAIL: $1"
	failures=$((failures + 1))
}
# check NAME LOG PATTERN: the log has a line matching the extended regex PATTERN.
check() {
	if grep -Eq -- "$3" "$2"; then pass "$1"; else fail "$1"; fi
}

# boot LOG KERNEL APPEND [QEMU ARGS...]: boots with stdin from $WORK/stdin (if present) and a
# 120 s limit; the log has \r removed and a line "wall-to-booted S" added.
boot() {
	local log=$1 kernel=$2 append=$3 start input=/dev/null
	shift 3
	[ -p "$WORK/stdin" ] || [ -f "$WORK/stdin" ] && input=$WORK/stdin
	: >"$log.raw"
	start=$(date +%s%N)
	qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot -kernel "$kernel" \
		-initrd "$GUEST/initrd.img" -append "$append" "$@" <"$input" >"$log.raw" 2>&1 &
	QEMU_PID=$!
	local booted='' waited=0
	while kill -0 "$QEMU_PID" 2>/dev/null && [ $waited -lt 1200 ]; do
		if [ -z "$booted" ] && grep -q HV-BOOTED "$log.raw"; then
			booted=$((($(date +%s%N) - start) / 1000000))
		fi
		sleep 0.1
		waited=$((waited + 1))
	done
	if kill -0 "$QEMU_PID" 2>/dev/null; then
		kill "$QEMU_PID"
		echo "qemu-timeout" >>"$log.raw"
	fi
	wait "$QEMU_PID"
	echo "qemu-status $?" >>"$log.raw"
	QEMU_PID=
	tr -d '\r' <"$log.raw" >"$log"
	[ -n "$booted" ] && echo "wall-to-booted $((booted / 1000)).$(printf %03d $((booted % 1000)))" >>"$log"
}

booted_at() { # log: "uptime U s, W s wall"
	echo "uptime $(sed -n 's/.*HV-BOOTED \([0-9.]*\).*/\1/p' "$1" | head -1) s," \
		"$(sed -n 's/^wall-to-booted //p' "$1") s after QEMU started"
}

truncate -s 64M "$WORK/disk.img"
truncate -s 1M "$WORK/cd.img"

# 1. bzImage, quoted hv.run with spaces, pipes, semicolons and single quotes; pcnet + hv.ip;
#    IDE disk and CD-ROM; the tools run; the command's status comes back.
cmd="lsmod | cut -d' ' -f1 | tr '\n' ' '; echo; ip -4 addr show eth0; ethtool -i eth0 | head -1"
cmd+="; ls /sys/block | tr '\n' ' '; echo; iperf3 -v | head -1"
cmd+="; fio --name=t --filename=/dev/sda --size=4M --rw=randread --bs=4k --ioengine=libaio"
cmd+=" --direct=1 --minimal | cut -d';' -f1-3; exit 3"
boot "$WORK/a.log" "$GUEST/vmlinuz" "console=ttyS0 quiet hv.ip=198.18.0.2/24 hv.run=\"$cmd\"" \
	-nic user,model=pcnet,restrict=on,net=198.18.0.0/24 \
	-drive "file=$WORK/disk.img,format=raw,if=ide,index=0" \
	-drive "file=$WORK/cd.img,format=raw,if=ide,index=2,media=cdrom"
check "bzImage boots to HV-BOOTED" "$WORK/a.log" 'HV-BOOTED [0-9]+\.[0-9]+$'
for mod in pcnet32 ata_piix sd_mod sr_mod; do
	check "module $mod loaded by modalias" "$WORK/a.log" "(^| )$mod( |$)"
done
check "hv.ip configures eth0" "$WORK/a.log" 'inet 198\.18\.0\.2/24'
check "ethtool runs" "$WORK/a.log" '^driver: pcnet32'
check "IDE disk and CD-ROM appear" "$WORK/a.log" 'sda sr0'
check "iperf3 runs" "$WORK/a.log" '^iperf 3\.'
check "fio runs (libaio, O_DIRECT)" "$WORK/a.log" '^3;fio-3\.[0-9]+;t$'
check "HV-EXIT carries the status" "$WORK/a.log" '^HV-EXIT 3$'
check "guest powers off, QEMU exits 0" "$WORK/a.log" '^qemu-status 0$'
echo "bzImage: HV-BOOTED at $(booted_at "$WORK/a.log")"

# 2. ELF vmlinux through the PVH entry, the kernel's whole-word quoting, hv.dhcp on virtio-net.
boot "$WORK/b.log" "$GUEST/vmlinux" \
	"console=ttyS0 quiet \"hv.run=ip -4 addr show eth0; echo a  b\" hv.dhcp" \
	-nic user,model=virtio-net-pci,restrict=on,net=198.18.0.0/24
check "vmlinux (PVH) boots to HV-BOOTED" "$WORK/b.log" 'HV-BOOTED [0-9]+\.[0-9]+$'
check "\"hv.run=...\" form" "$WORK/b.log" '^a b$'
check "hv.dhcp gets a lease on virtio-net" "$WORK/b.log" 'inet 198\.18\.0\.[0-9]+/24'
check "HV-EXIT 0" "$WORK/b.log" '^HV-EXIT 0$'
echo "vmlinux: HV-BOOTED at $(booted_at "$WORK/b.log")"

# 3. hv.run=WORD, hv.ip without a NIC: one line says so and the command still runs.
boot "$WORK/c.log" "$GUEST/vmlinux" "hv.run=uname console=ttyS0 quiet hv.ip=198.18.0.2/24" \
	-nic none
check "hv.run=WORD form" "$WORK/c.log" '^Linux$'
check "hv.ip without eth0 says so" "$WORK/c.log" '^hv\.ip: no eth0$'
check "no NIC: HV-EXIT 0" "$WORK/c.log" '^HV-EXIT 0$'

# 4. No hv.run: a shell with job control on the console; leaving it powers off. The input is
#    typed once the prompt is there.
wait_for() { # file pattern: up to 120 s
	for _ in $(seq 1200); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
mkfifo "$WORK/stdin"
{
	# shellcheck disable=SC2016 # the guest's shell expands it
	wait_for "$WORK/d.log.raw" '/ # ' &&
		printf 'echo SHELL-$((40+2)); set -o | grep monitor\n' &&
		wait_for "$WORK/d.log.raw" 'SHELL-42' && printf 'exit\n'
} >"$WORK/stdin" 2>/dev/null &
WRITER_PID=$!
boot "$WORK/d.log" "$GUEST/vmlinux" "console=ttyS0 quiet"
kill "$WRITER_PID" 2>/dev/null
WRITER_PID=
check "shell on the console" "$WORK/d.log" '^SHELL-42$'
check "shell has job control" "$WORK/d.log" '^monitor +on'
check "leaving the shell powers off" "$WORK/d.log" '^qemu-status 0$'

[ $failures -eq 0 ]
