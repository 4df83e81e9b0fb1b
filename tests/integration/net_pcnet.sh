#!/usr/bin/env bash
# The PCnet-PCI II NIC with the default Linux guest on hostvisor's kvm engine: probe and link,
# ping, fragmented 9000-byte ping, promiscuous mode, iperf3 both ways, the user-mode backend
# (DHCP, gateway, restrict=on, hostfwd) and pcap capture (tests/integration/net_pcnet_checks.sh
# has the checks).
#
#   BUILD=build tests/integration/net_pcnet.sh     (as root: network namespaces and TAPs)
#
# Where /dev/kvm runs a kernel at speed (`hostvisor probe` exits 0) the checks run here. Elsewhere
# (PVM, DESIGN.md section 2) they all run inside one boot of the carrier (tests/carrier/run.sh).
# Either way the host side lives in network namespaces the checks make and delete. Prints
# "PASS: net/<check>", "FAIL: net/<check>: reason" or "SKIPPED: net/<check> (reason)" for every
# check, and the time it all took. Exit status 1 when a check failed or was not reported.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

TAG=net_pcnet
PREFIX=net
INNER=tests/integration/net_pcnet_checks.sh
CARRIER_TIMEOUT=${NET_PCNET_CARRIER_TIMEOUT:-240} # all three boots take about 80 s
PASS_ENV=NET_PCNET_TIMEOUT
DIRECT_NEEDS_ROOT=1
CHECKS=(probe ping jumbo-ping promisc iperf3 user capture)

# shellcheck source=tests/integration/kvm_checks.sh
. tests/integration/kvm_checks.sh
run_kvm_checks
