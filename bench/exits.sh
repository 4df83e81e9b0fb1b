#!/usr/bin/env bash
# Exit cost, hostvisor's kvm engine against QEMU with KVM, on the same guest
# ($BUILD/tests/guests/exits.elf, tests/guests/exits.c) with the same memory, in one run.
#
#   bench/exits.sh [--iters N] [--runs R]
#
# Three kinds of back-to-back exit, each in a VM of its own: byte writes to an unclaimed port
# and to the UART scratch register (a ring-0 loop: on PVM ring-3 port I/O faults), and dword
# writes at ring 3 to unclaimed MMIO. For each VMM and kind it prints exits per second (from
# the guest's TSC) and host CPU per exit: user+sys of the VMM process (/usr/bin/time) minus that
# of a baseline VM that boots and powers off with no loop, divided by the exit count. With
# --runs R each figure is the median of R runs. The user-time columns are what the kernel
# charged as user time, which includes the guest's own running time, so they bound the VMM's
# user-space share from above. Not a test: it prints a markdown table.
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
ITERS=1000000
RUNS=1
TIMEOUT=900
MEM=64
while [ $# -gt 0 ]; do
	case $1 in
	--iters) ITERS=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "exits.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

ELF=$BUILD/tests/guests/exits.elf
WORK=$(mktemp -d /tmp/bench-exits.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
for need in "$ELF" "$BUILD/hostvisor" /usr/bin/time; do
	[ -e "$need" ] || { echo "exits.sh: $need is missing (build first)" >&2; exit 1; }
done
[ -w /dev/kvm ] || { echo "exits.sh: /dev/kvm is not usable" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "exits.sh: no qemu-system-x86_64" >&2; exit 1; }

# Runs one VM; prints "cpu_seconds wall_seconds guest_ns user_seconds" for loop $3 (guest_ns 0
# for none).
run_vm() { # vmm append loop
	local vmm=$1 append=$2 loop=$3 out=$WORK/out err=$WORK/err tm=$WORK/time
	if [ "$vmm" = qemu ]; then
		timeout "$TIMEOUT" /usr/bin/time -f '%U %S %e' -o "$tm" qemu-system-x86_64 \
			-enable-kvm -m "$MEM" -display none -vga none -net none -monitor none \
			-serial "file:$out" -no-reboot -kernel "$ELF" -append "$append" \
			</dev/null >"$err" 2>&1
	else
		timeout "$TIMEOUT" /usr/bin/time -f '%U %S %e' -o "$tm" "$BUILD/hostvisor" run \
			--engine kvm --kernel "$ELF" --append "$append" --mem "${MEM}M" \
			--serial "file:$out" --no-reboot </dev/null >"$err" 2>&1
	fi
	local rc=$?
	if [ $rc -ne 0 ] || ! grep -q '^DONE exits' "$out"; then
		echo "exits.sh: $vmm '$append' failed (exit $rc):" >&2
		tail -5 "$out" "$err" >&2
		return 1
	fi
	local ns=0
	[ "$loop" = none ] || ns=$(sed -n "s/^EXITS $loop .* ns=\([0-9]*\).*/\1/p" "$out" | tr -d '\r')
	awk -v ns="$ns" '{ printf "%.3f %.3f %s %.3f\n", $1 + $2, $3, ns, $1 }' "$tm"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A cpu wall ns user
for vmm in hostvisor qemu; do
	echo "== $vmm: baseline (boot and power off, no loop)" >&2
	for ((i = 0; i < RUNS; i++)); do run_vm "$vmm" "iters=0" none || exit 1; done >"$WORK/base"
	cpu[$vmm,base]=$(awk '{ print $1 }' "$WORK/base" | median)
	wall[$vmm,base]=$(awk '{ print $2 }' "$WORK/base" | median)
	user[$vmm,base]=$(awk '{ print $4 }' "$WORK/base" | median)
	for loop in unclaimed scratch mmio; do
		echo "== $vmm: $loop x $ITERS" >&2
		for ((i = 0; i < RUNS; i++)); do
			run_vm "$vmm" "iters=0 $loop=$ITERS" "$loop" || exit 1
		done >"$WORK/runs"
		cpu[$vmm,$loop]=$(awk '{ print $1 }' "$WORK/runs" | median)
		ns[$vmm,$loop]=$(awk '{ print $3 }' "$WORK/runs" | median)
		user[$vmm,$loop]=$(awk '{ print $4 }' "$WORK/runs" | median)
	done
done

# exits/s from the guest's clock; host CPU us per exit above the baseline.
rate() { awk -v n="$ITERS" -v ns="$1" 'BEGIN { printf "%.0f", (ns > 0 ? n / (ns / 1e9) : 0) }'; }
cpu_per_exit() { awk -v n="$ITERS" -v c="$1" -v b="$2" 'BEGIN { printf "%.2f", (c - b) * 1e6 / n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }'; }

echo
echo "Exits: $ITERS per kind, ${MEM} MiB guest, median of $RUNS run(s); $(uname -r), $(nproc) CPUs"
echo
echo "| exit kind | hostvisor exits/s | QEMU exits/s | ratio hv/QEMU | hostvisor host CPU us/exit | QEMU host CPU us/exit | ratio hv/QEMU | hostvisor user us/exit | QEMU user us/exit |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for loop in unclaimed scratch mmio; do
	rh=$(rate "${ns[hostvisor,$loop]}") rq=$(rate "${ns[qemu,$loop]}")
	ch=$(cpu_per_exit "${cpu[hostvisor,$loop]}" "${cpu[hostvisor,base]}")
	cq=$(cpu_per_exit "${cpu[qemu,$loop]}" "${cpu[qemu,base]}")
	uh=$(cpu_per_exit "${user[hostvisor,$loop]}" "${user[hostvisor,base]}")
	uq=$(cpu_per_exit "${user[qemu,$loop]}" "${user[qemu,base]}")
	case $loop in
	unclaimed) what="outb, unclaimed port 0x2000 (ring 0)" ;;
	scratch) what="outb, UART scratch 0x3ff (ring 0)" ;;
	mmio) what="movl, unclaimed MMIO (ring 3)" ;;
	esac
	echo "| $what | $rh | $rq | $(ratio "$rh" "$rq") | $ch | $cq | $(ratio "$ch" "$cq") | $uh | $uq |"
done
echo
echo "Baseline VM (boot to power-off, no loop): hostvisor ${cpu[hostvisor,base]} s CPU, ${wall[hostvisor,base]} s wall;" \
	"QEMU ${cpu[qemu,base]} s CPU, ${wall[qemu,base]} s wall."
