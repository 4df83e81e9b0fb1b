#!/usr/bin/env bash
# Installs every Debian package that the build, the tests, the guest and the benchmarks need.
# Idempotent and quiet when everything is already there.
set -euo pipefail

packages=(
  # build
  build-essential gcc clang lld meson ninja-build pkg-config
  # unit tests, sanitizers, fuzzers
  libcmocka-dev libclang-rt-14-dev
  # ACPI tables: the DSDT is compiled at build time
  acpica-tools
  # the user-mode NAT network backend (slirp.pc requires glib-2.0.pc)
  libslirp-dev libglib2.0-dev
  # default guest: fetched with apt-get download, unpacked, packed into an initramfs
  cpio xz-utils zstd kmod
  # the peer VMM, the carrier machine for kvm-engine tests, and the benchmarks
  qemu-system-x86 qemu-utils iproute2 procps time
  # network: packet captures are checked with tshark
  tshark
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
