#!/usr/bin/env bash
# make run: boots the default guest with a shell on this terminal. Where /dev/kvm runs guest
# kernels at hardware speed, hostvisor runs directly; where it cannot (PVM, measured by
# `hostvisor probe`), hostvisor runs inside the carrier machine, where real KVM works.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
HV=$BUILD/hostvisor

if why=$("$HV" probe); then
	exec "$HV" run "$@"
fi
echo "make run: $why" >&2
echo "make run: booting hostvisor inside the carrier (tests/carrier/), where KVM runs at speed; Ctrl-A x quits" >&2
exec tests/carrier/run.sh --interactive --timeout 86400 -- "$HV" run --engine kvm "$@"
