#!/usr/bin/env bash
# The test guests on hostvisor's emu engine: the same guests and checks as run.sh, reset.sh and
# pcnet.sh run on the kvm engine, named guests-emu/... The emu engine needs no /dev/kvm.
#
#   BUILD=build tests/guests/emu.sh
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
status=0
bash tests/guests/run.sh --engine emu || status=1
ENGINE=emu bash tests/guests/reset.sh || status=1
ENGINE=emu bash tests/guests/pcnet.sh || status=1
exit $status
