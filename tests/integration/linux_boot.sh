#!/usr/bin/env bash
# The default Linux guest on hostvisor's kvm engine: boots, hv.run, CPUs, the RTC, reboots,
# console input and a clean dmesg (tests/integration/linux_boot_checks.sh has the checks).
#
#   BUILD=build tests/integration/linux_boot.sh
#
# Where /dev/kvm runs a kernel at speed (`hostvisor probe` exits 0) the checks run here. Elsewhere
# (PVM, DESIGN.md section 2) they all run inside one boot of the carrier (tests/carrier/run.sh), so
# that the guest boots share it. Prints "PASS: linux/<check>", "FAIL: linux/<check>: reason" or
# "SKIPPED: linux/<check> (reason)" for every check, and the time it all took. Exit status 1 when a
# check failed or was not reported.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

TAG=linux_boot
PREFIX=linux
INNER=tests/integration/linux_boot_checks.sh
CARRIER_TIMEOUT=${LINUX_BOOT_CARRIER_TIMEOUT:-300} # all boots take about 80 s
PASS_ENV=LINUX_BOOT_TIMEOUT
DIRECT_NEEDS_ROOT=0
CHECKS=(boot hv.run hv.run-status cpus hwclock dmesg reboot-no-reboot reboot input)

# shellcheck source=tests/integration/kvm_checks.sh
. tests/integration/kvm_checks.sh
run_kvm_checks
