#!/usr/bin/env bash
# make run: boots the default guest with a shell on this terminal. hostvisor picks its engine
# (--engine auto): kvm where /dev/kvm runs guest kernels at hardware speed, else its own CPU
# (emu), saying in one line why. Extra arguments go to `hostvisor run`.
#
# CARRIER=1 make run boots the kvm engine inside the carrier machine (tests/carrier/) instead,
# where real KVM works even on a host whose /dev/kvm is PVM.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
HV=$BUILD/hostvisor

if [ "${CARRIER:-0}" != 1 ]; then
	exec "$HV" run "$@"
fi
echo "make run: booting hostvisor inside the carrier (tests/carrier/), where KVM runs at speed; Ctrl-A x quits" >&2
exec tests/carrier/run.sh --interactive --timeout 86400 -- "$HV" run --engine kvm "$@"
