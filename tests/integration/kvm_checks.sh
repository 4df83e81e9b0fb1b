# Sourced by the Linux test drivers (linux_boot.sh, net_pcnet.sh): runs a file of checks where
# KVM can run the default Linux guest, reports every check exactly once, and says where it ran.
#
# Where /dev/kvm runs a kernel at speed (`hostvisor probe` exits 0) the checks run on this host.
# Elsewhere (PVM, DESIGN.md section 2) they all run inside one boot of the carrier
# (tests/carrier/run.sh). The caller sets, before calling run_kvm_checks:
#   TAG          name for messages ("linux_boot")
#   PREFIX       check namespace in result lines ("linux" -> "PASS: linux/boot")
#   INNER        the checks file, run with bash (mode 0644: tests/run.sh must not run it alone)
#   CARRIER_TIMEOUT  seconds for the whole carrier run
#   PASS_ENV     names of environment variables the checks need inside the carrier
#   DIRECT_NEEDS_ROOT  1 when the checks need root on this host (network namespaces, TAPs)
#   CHECKS       array of check names
# Prints PASS:/FAIL:/SKIPPED: lines for tests/run.sh; returns 1 when a check failed or was not
# reported.

BUILD=${BUILD:-build}
export BUILD
HV=$BUILD/hostvisor
KVM_CHECKS_OUT=

# Every check SKIPPED, loudly: also on stderr, so that a skip is not mistaken for a pass.
kvm_checks_skip_all() { # reason
	local check
	echo "$TAG: SKIPPING all ${#CHECKS[@]} checks: $1" >&2
	for check in "${CHECKS[@]}"; do
		echo "SKIPPED: $PREFIX/$check ($1)"
	done
	exit 0
}

kvm_checks_fail_all() { # reason
	local check
	for check in "${CHECKS[@]}"; do
		echo "FAIL: $PREFIX/$check: $1"
	done
	exit 1
}

# True when the checks' output has a result line for CHECK.
kvm_checks_reported() { # check
	local line
	while IFS= read -r line; do
		case $line in
		"PASS: $PREFIX/$1" | "PASS: $PREFIX/$1 "* | "FAIL: $PREFIX/$1:"* | "SKIPPED: $PREFIX/$1 "*) return 0 ;;
		esac
	done <"$KVM_CHECKS_OUT"
	return 1
}

kvm_checks_in_carrier() {
	# shellcheck disable=SC2086 # PASS_ENV is a list of names
	CARRIER_ENV="${CARRIER_ENV:+$CARRIER_ENV }BUILD $PASS_ENV" \
		tests/carrier/run.sh --timeout "$CARRIER_TIMEOUT" -- bash "$INNER" 2>&1 |
		tee "$KVM_CHECKS_OUT"
	return "${PIPESTATUS[0]}"
}

# Reports a FAIL for every check the run did not report, naming why; returns how many.
kvm_checks_missing() { # rc
	local check missing=0
	for check in "${CHECKS[@]}"; do
		kvm_checks_reported "$check" && continue
		case $1 in
		124) echo "FAIL: $PREFIX/$check: not reported; the carrier timed out after $CARRIER_TIMEOUT s" ;;
		125) echo "FAIL: $PREFIX/$check: not reported; the carrier failed (see $BUILD/carrier/last-console.log)" ;;
		*) echo "FAIL: $PREFIX/$check: not reported; the checks exited $1" ;;
		esac
		missing=$((missing + 1))
	done
	return $missing
}

run_kvm_checks() {
	local start=$SECONDS where why rc missing file
	KVM_CHECKS_OUT=$(mktemp "${TMPDIR:-/tmp}/$TAG-out.XXXXXX") || exit 2
	trap 'rm -f "$KVM_CHECKS_OUT"' EXIT
	[ -c /dev/kvm ] || kvm_checks_skip_all "no /dev/kvm on this host"
	for file in vmlinuz vmlinux initrd.img; do
		[ -f "$BUILD/guest/$file" ] ||
			kvm_checks_skip_all "no $BUILD/guest/$file; build it with guest/build.sh $BUILD/guest"
	done
	[ -x "$HV" ] || kvm_checks_fail_all "$HV is not built"

	if why=$("$HV" probe 2>&1); then
		if [ "${DIRECT_NEEDS_ROOT:-0}" = 1 ] && [ "$(id -u)" -ne 0 ]; then
			kvm_checks_skip_all "the checks need root here (network namespaces, TAPs)"
		fi
		where="directly (KVM runs a kernel at speed here)"
		bash "$INNER" 2>&1 | tee "$KVM_CHECKS_OUT"
		rc=${PIPESTATUS[0]}
	else
		command -v qemu-system-x86_64 >/dev/null ||
			kvm_checks_skip_all "KVM here cannot run Linux ($why) and the carrier needs qemu-system-x86_64"
		where="in the carrier ($why)"
		kvm_checks_in_carrier
		rc=$?
		# The carrier (QEMU TCG with nested SVM) has been seen to stall once in many runs
		# before any check started. That is the test machine, not hostvisor: retry it once,
		# loudly. A hostvisor hang would stall again and fail.
		if { [ "$rc" -eq 124 ] || [ "$rc" -eq 125 ]; } &&
			! grep -q '^\(PASS\|FAIL\): ' "$KVM_CHECKS_OUT"; then
			echo "$TAG: the carrier stalled (status $rc) before any check reported; retrying once" |
				tee /dev/stderr
			kvm_checks_in_carrier
			rc=$?
		fi
	fi
	kvm_checks_missing "$rc"
	missing=$?
	echo "$TAG: $((SECONDS - start)) s in all, run $where"
	[ "$rc" -eq 0 ] && [ "$missing" -eq 0 ] && ! grep -q '^FAIL: ' "$KVM_CHECKS_OUT"
}
