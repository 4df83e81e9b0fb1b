#!/usr/bin/env bash
# Host-side bad input: each case must print exactly one line on stderr, exit non-zero, and leave
# nothing behind. Prints PASS:/FAIL:/SKIPPED: lines for tests/run.sh.
set -u
cd "$(dirname "$0")/../.."
HV=${BUILD:-build}/hostvisor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$HV" ]; then
  echo "FAIL: cli: $HV not built"
  exit 1
fi

# case NAME EXPECTED-SUBSTRING -- ARGS...
check() {
  local name=$1 want=$2
  shift 3
  local out err rc lines
  timeout 20 "$HV" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  rc=$?
  lines=$(wc -l <"$tmp/err")
  if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then
    echo "FAIL: cli/$name: exit status $rc"; cat "$tmp/err"; return
  fi
  if [ "$lines" -ne 1 ]; then
    echo "FAIL: cli/$name: $lines lines on stderr, want 1"; cat "$tmp/err"; return
  fi
  if ! grep -q -- "$want" "$tmp/err"; then
    echo "FAIL: cli/$name: stderr lacks '$want': $(cat "$tmp/err")"; return
  fi
  echo "PASS: cli/$name ($(cat "$tmp/err"))"
}

printf 'not a kernel\n' >"$tmp/notkernel"
: >"$tmp/empty"
# The smallest Multiboot kernel: an a.out-kludge header loaded at 1 MiB whose entry is a HLT.
mb=$tmp/mini.mb
python3 - "$mb" <<'PY'
import struct, sys
magic, flags = 0x1BADB002, 0x00010000
hdr = struct.pack('<8I', magic, flags, (-(magic + flags)) & 0xffffffff,
                  0x100000, 0x100000, 0, 0, 0x100020)
open(sys.argv[1], 'wb').write(hdr + b'\xf4' * 16)
PY

check unknown-flag "unknown option '--bogus'" -- run --bogus
check unknown-command "unknown command" -- launch
check missing-value "needs a value" -- run --kernel
check mem-too-small "too small" -- run --kernel "$tmp/notkernel" --mem 1M
check mem-too-large "more than the host" -- run --kernel "$tmp/notkernel" --mem 64T
check mem-malformed "not a size" -- run --kernel "$tmp/notkernel" --mem lots
check cpus-zero "--cpus 0" -- run --cpus 0
check cpus-too-many "--cpus 17" -- run --cpus 17
check engine-unknown "--engine xen" -- run --engine xen
check kernel-missing "No such file" -- run --engine kvm --kernel "$tmp/nonexistent"
check kernel-empty "empty file" -- run --engine kvm --kernel "$tmp/empty"
check kernel-directory "not a regular file" -- run --engine kvm --kernel "$tmp"
check kernel-malformed "neither a Linux bzImage, an x86-64 ELF kernel nor a Multiboot" -- run --engine kvm --kernel "$tmp/notkernel"
check initrd-missing "initrd" -- run --engine kvm --kernel "$tmp/notkernel" --initrd "$tmp/nonexistent"
check serial-bad "serial" -- run --engine kvm --kernel "$mb" --serial bogus
check emu-kernel-malformed "neither a Linux bzImage, an x86-64 ELF kernel nor a Multiboot" -- run --engine emu --kernel "$tmp/notkernel"
# An x86-64 ELF program that is not a kernel: no PVH entry note.
check emu-elf-no-pvh "no PVH entry note" -- run --engine emu --kernel "$(type -P true)"
check net-model-unknown "unknown NIC model 'e1000'" -- run --net e1000,tap=hv0
check net-no-backend "no backend" -- run --net pcnet
check net-bad-mac "not a unicast MAC" -- run --net pcnet,user,mac=01:00:5e:00:00:01
check net-bad-backend "net" -- run --engine kvm --kernel "$mb" --net pcnet,bogus
check net-bad-hostfwd "hostfwd" -- run --engine kvm --kernel "$mb" --net pcnet,user,hostfwd=tcp:x-:y
check net-capture-unwritable "capture" -- run --engine kvm --kernel "$mb" --net "pcnet,user,capture=$tmp/nodir/x.pcap"

# A socket backend must not be left behind when a later step fails.
check unix-socket-cleanup "neither a Linux bzImage" -- run --engine kvm --kernel "$tmp/notkernel" --serial "unix:$tmp/sock"
if [ -e "$tmp/sock" ]; then echo "FAIL: cli/unix-socket-left-behind"; else echo "PASS: cli/unix-socket-left-behind"; fi

# No /dev/kvm, and no permission on it: need root to stage (a private /dev; another user).
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
  echo "SKIPPED: cli/no-dev-kvm (needs root for a private mount namespace)"
  echo "SKIPPED: cli/no-permission (needs root to run as another user)"
else
  out=$(unshare -m sh -c "mount -t tmpfs none /dev && exec '$HV' run --engine kvm --kernel '$tmp/notkernel'" 2>&1 >/dev/null)
  rc=$?
  if [ $rc -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && printf '%s' "$out" | grep -q '/dev/kvm'; then
    echo "PASS: cli/no-dev-kvm ($out)"
  else
    echo "FAIL: cli/no-dev-kvm: rc=$rc: $out"
  fi
  if [ -e /dev/kvm ]; then
    chmod 755 "$tmp"; cp "$tmp/notkernel" "$tmp/k"; chmod 644 "$tmp/k"
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$HV" run --engine kvm --kernel "$tmp/k" 2>&1 >/dev/null)
    rc=$?
    if [ $rc -ne 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && printf '%s' "$out" | grep -q 'Permission denied'; then
      echo "PASS: cli/no-permission ($out)"
    else
      echo "FAIL: cli/no-permission: rc=$rc: $out"
    fi
  else
    echo "SKIPPED: cli/no-permission (no /dev/kvm on this host)"
  fi
fi
