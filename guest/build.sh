#!/usr/bin/env bash
# Builds the default guest (DESIGN.md section 6) from Debian packages:
#   OUTDIR/vmlinuz        the Debian bzImage
#   OUTDIR/vmlinux        the same kernel uncompressed (ELF with the PVH entry note)
#   OUTDIR/System.map     its symbols (decoded from the kernel's own kallsyms by kallsyms.py)
#   OUTDIR/initrd.img     newc cpio, zstd: busybox, iperf3, ethtool, fio, their libraries,
#                         the kernel modules of hostvisor's devices, /init
#   OUTDIR/initrd.cpio    the same archive uncompressed (the emu engine loads it)
#   OUTDIR/modules.list   the kernel modules in the initramfs, one name a line
#   OUTDIR/kernel.version
# Downloads and unpacked packages are kept in OUTDIR/cache; a second run with nothing changed
# does nothing and prints nothing.
#
# usage: guest/build.sh OUTDIR
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
CACHE=$OUT/cache
DEBS=$CACHE/debs
UNPACKED=$CACHE/unpacked
STUBS=$CACHE/stubs
STAGE=$OUT/stage
export LC_ALL=C

# Binaries the guest runs, as package:path. Their shared libraries are found through DT_NEEDED.
PROGRAMS=(
	busybox-static:bin/busybox
	iperf3:usr/bin/iperf3
	ethtool:sbin/ethtool
	fio:usr/bin/fio
)

# Debian's fio links the libraries of its network and RDMA engines (Ceph, Gluster, NBD, RDMA,
# PMDK), whose closure is 75 MB (ICU, GnuTLS, Boost...). The guest replaces each with a stub that
# defines just the symbols fio takes from it and exits with a message if one is called, so fio's
# local engines (psync, libaio, io_uring, mmap...) work and the initramfs stays small.
# soname:package (the package is read for the symbols and versions the stub must define).
STUB_LIBRARIES=(
	librados.so.2:librados2
	librbd.so.1:librbd1
	libgfapi.so.0:libgfapi0
	libnbd.so.0:libnbd0
	libibverbs.so.1:libibverbs1
	librdmacm.so.1:librdmacm1
	libpmem.so.1:libpmem1
	libpmemblk.so.1:libpmemblk1
)

# Kernel modules for every device hostvisor emulates or will emulate, and what the carrier
# (tests/carrier) needs; dependencies come from modules.dep. Built-ins need nothing (atkbd, i8042,
# serio, libps2, rtc_cmos, 8250, af_packet, unix). Debian's kernel has no ISA sound, so snd-sb16 is
# skipped (listed in QUIET_MISSING).
MODULES=(
	# network cards
	pcnet32 e1000 ne2k-pci virtio_net net_failover
	# disks: IDE/ATA, SCSI, floppy, virtio
	ata_piix ata_generic sd_mod sr_mod sg BusLogic floppy virtio_blk
	# virtio transport
	virtio_pci
	# parallel port, PS/2 mouse, raw serio, input events, sound (OSS emulation for tests)
	parport_pc psmouse serio_raw evdev snd-sb16 snd-pcm-oss
	# host-side tools inside the guest and the carrier
	9p 9pnet_virtio kvm kvm_amd kvm_intel tun bridge veth
)
declare -A QUIET_MISSING=([snd-sb16]=1)

log() { echo "guest: $*" >&2; }
die() {
	echo "guest: error: $*" >&2
	exit 1
}

# ---------------------------------------------------------------------------------------------
# Debian packages

declare -A PACKAGE_DIR=() # package name -> directory it is unpacked in

# Prints "name version arch" for each package name given, from the local apt index.
apt_versions() {
	apt-cache show --no-all-versions "$@" 2>/dev/null |
		awk '/^Package: /{p=$2} /^Version: /{v=$2} /^Architecture: /{print p, v, $2}'
}

# Prints apt_versions of the packages given; refreshes the apt index once if one is unknown.
APT_REFRESHED=
apt_versions_all() {
	local versions
	versions=$(apt_versions "$@")
	if [ "$(grep -c . <<<"$versions")" -ne $# ]; then
		[ -n "$APT_REFRESHED" ] && die "apt does not know one of: $*"
		apt_refresh
		versions=$(apt_versions "$@")
		[ "$(grep -c . <<<"$versions")" -eq $# ] || die "apt does not know one of: $*"
	fi
	echo "$versions"
}

apt_refresh() {
	log "refreshing the apt index"
	apt-get update -qq >/dev/null || die "apt-get update failed"
	APT_REFRESHED=1
}

apt_download() {
	local sandbox=()
	# apt's download user cannot write into a root-owned cache: download as root then.
	[ "$(id -u)" -eq 0 ] && sandbox=(-o APT::Sandbox::User=root)
	(cd "$DEBS" && apt-get download -qq "${sandbox[@]}" "$@" >/dev/null 2>&1)
}

# Downloads (unless cached) and unpacks (unless unpacked) the packages given; records where.
fetch_packages() {
	local name version arch file missing=() dirs=() dir
	mkdir -p "$DEBS" "$UNPACKED"
	while read -r name version arch; do
		# The name apt-get download gives the file: name_version_arch.deb, epoch colon as %3a.
		file=${name}_${version//:/%3a}_${arch}.deb
		[ -f "$DEBS/$file" ] || missing+=("$name=$version")
		dirs+=("$UNPACKED/${file%.deb}")
		PACKAGE_DIR[$name]=$UNPACKED/${file%.deb}
	done < <(apt_versions_all "$@")
	if [ ${#missing[@]} -gt 0 ]; then
		log "downloading ${#missing[@]} package(s)"
		if ! apt_download "${missing[@]}"; then
			# A stale index names versions the mirror no longer has: refresh, resolve again.
			[ -n "$APT_REFRESHED" ] && die "cannot download ${missing[*]}"
			log "download failed; trying again with a fresh apt index"
			apt_refresh
			fetch_packages "$@"
			return
		fi
	fi
	for dir in "${dirs[@]}"; do
		[ -f "$dir/.unpacked" ] && continue
		rm -rf "$dir"
		dpkg-deb -x "$DEBS/${dir##*/}.deb" "$dir"
		: >"$dir/.unpacked"
	done
}

# The image package linux-image-amd64 points at: linux-image-6.1.0-N-amd64.
kernel_package() {
	local name
	name=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')
	if [ -z "$name" ]; then
		apt_refresh
		name=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
	fi
	echo "$name"
}

# Library packages (Debian section "libs") the packages given depend on directly. Virtual
# packages and everything else are left out: the guest takes only shared objects from these.
library_depends() {
	local deps
	mapfile -t deps < <(apt-cache depends --no-recommends --no-suggests --no-conflicts \
		--no-breaks --no-replaces --no-enhances "$@" 2>/dev/null |
		awk '$1 ~ /Depends:$/ && $2 !~ /^</ {print $2}' | sort -u)
	[ ${#deps[@]} -gt 0 ] || return 0
	apt-cache show --no-all-versions "${deps[@]}" 2>/dev/null |
		awk '/^Package: /{p=$2} /^Section: /{if ($2 ~ /(^|\/)libs$/) print p}' | sort -u
}

# ---------------------------------------------------------------------------------------------
# Shared libraries

declare -A SONAME_FILE=() # soname -> absolute path of the file that provides it
declare -A SONAME_DEST=() # soname -> path inside the guest
declare -A INDEXED=()     # directory -> 1

# Records every shared object under a package directory by file name (first one wins).
index_libraries() { # dir
	local dir=$1 rel name
	[ -n "${INDEXED[$dir]:-}" ] && return 0
	INDEXED[$dir]=1
	while IFS= read -r rel; do
		name=${rel##*/}
		[ -n "${SONAME_FILE[$name]:-}" ] && continue
		SONAME_FILE[$name]=$dir/$rel
		SONAME_DEST[$name]=$rel
	done < <(cd "$dir" && find lib lib64 usr/lib -name '*.so*' \( -type f -o -type l \) \
		2>/dev/null | sort)
}

needed_sonames() { # elf
	readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}

# Builds a stub for SONAME defining the functions PROGRAM takes from the real library REAL, with
# the symbol versions PROGRAM asks for; each stub function reports the missing library and exits.
# (A data symbol taken from REAL would stay undefined and make the program fail to load, which
# guest/test.sh would show: fio takes none.)
make_stub_library() { # soname real program out
	local soname=$1 real=$2 program=$3 out=$4 src=$STUBS/src/$1.c map=$STUBS/src/$1.map
	local -A exports=() nodes=()
	local sym name version
	while read -r sym; do
		exports[${sym%%@*}]=1
	done < <(readelf --dyn-syms -W "$real" | awk '$7 != "UND" && $5 != "LOCAL" && NF >= 8 {print $8}')
	{
		echo "/* Generated by guest/build.sh: stands in for $soname, which this guest lacks. */"
		echo "#include <string.h>"
		echo "#include <unistd.h>"
		echo "static void missing(const char *sym)"
		echo "{"
		echo "	static const char lib[] = \"$soname\";"
		echo "	(void)!write(2, \"guest: \", 7);"
		echo "	(void)!write(2, sym, strlen(sym));"
		echo "	(void)!write(2, \": \", 2);"
		echo "	(void)!write(2, lib, sizeof(lib) - 1);"
		printf '\t(void)!write(2, " is not in this guest\\n", 22);\n'
		echo "	_exit(127);"
		echo "}"
		while read -r sym; do
			name=${sym%%@*}
			[ -n "${exports[$name]:-}" ] || continue
			version=
			[ "$name" != "$sym" ] && version=${sym#*@}
			nodes[${version:-_}]+=" $name;"
			echo "void $name(void); void $name(void) { missing(\"$name\"); }"
		done < <(readelf --dyn-syms -W "$program" |
			awk '$7 == "UND" && NF >= 8 && $4 != "OBJECT" {print $8}')
	} >"$src"
	local script=()
	if [ ${#nodes[@]} -gt 1 ] || [ -z "${nodes[_]:-}" ]; then
		# Unversioned references bind to any version: put them in the first node.
		local first=
		: >"$map"
		for version in "${!nodes[@]}"; do
			[ "$version" = _ ] && continue
			[ -z "$first" ] && first=$version
			echo "$version { global:${nodes[$version]} };" >>"$map"
		done
		[ -n "${nodes[_]:-}" ] && sed -i "s/^$first { global:/& ${nodes[_]}/" "$map"
		# shellcheck disable=SC2054 # one linker option, commas and all
		script=(-Wl,--version-script="$map")
	fi
	${CC:-cc} -shared -fPIC -O2 -o "$out" -Wl,-soname,"$soname" "${script[@]}" "$src" ||
		die "cannot build the stub for $soname"
}

# Walks DT_NEEDED from the programs, pulling in library packages a dependency level at a time
# until every shared object is found. Writes "soname file destination" lines to $1.
resolve_libraries() { # out programs...
	local out=$1
	shift
	local -a queue=("$@") pending=() more=()
	local -A seen=() wanted=()
	local packages=() file soname pkg entry round=0

	# Stubs first, so that the real libraries are never looked for.
	mkdir -p "$STUBS/usr/lib/x86_64-linux-gnu" "$STUBS/src"
	fetch_packages "${STUB_LIBRARIES[@]#*:}"
	for entry in "${STUB_LIBRARIES[@]}"; do
		soname=${entry%%:*} pkg=${entry#*:}
		make_stub_library "$soname" "$(find "${PACKAGE_DIR[$pkg]}" -name "$soname" -print -quit)" \
			"${PACKAGE_DIR[fio]}/usr/bin/fio" "$STUBS/usr/lib/x86_64-linux-gnu/$soname"
		unset "PACKAGE_DIR[$pkg]"
	done
	index_libraries "$STUBS"

	packages=("${!PACKAGE_DIR[@]}")
	for pkg in "${packages[@]}"; do index_libraries "${PACKAGE_DIR[$pkg]}"; done
	while :; do
		pending=()
		while [ ${#queue[@]} -gt 0 ]; do
			file=${queue[0]}
			queue=("${queue[@]:1}")
			[ -n "${seen[$file]:-}" ] && continue
			seen[$file]=1
			while read -r soname; do
				if [ -n "${SONAME_FILE[$soname]:-}" ]; then
					wanted[$soname]=1
					queue+=("${SONAME_FILE[$soname]}")
				else
					pending+=("$file")
				fi
			done < <(needed_sonames "$file")
		done
		[ ${#pending[@]} -eq 0 ] && break
		round=$((round + 1))
		[ $round -le 8 ] || die "shared libraries not found for: ${pending[*]}"
		mapfile -t more < <(library_depends "${packages[@]}" |
			grep -vxF -f <(printf '%s\n' "${packages[@]}" "${STUB_LIBRARIES[@]#*:}") || true)
		[ ${#more[@]} -gt 0 ] || die "no package provides the libraries of: ${pending[*]}"
		packages+=("${more[@]}")
		fetch_packages "${more[@]}"
		for pkg in "${more[@]}"; do index_libraries "${PACKAGE_DIR[$pkg]}"; done
		for file in "${pending[@]}"; do unset "seen[$file]"; done
		queue=("${pending[@]}")
	done
	# Every dynamic x86-64 program names this interpreter.
	wanted[ld-linux-x86-64.so.2]=1
	for soname in "${!wanted[@]}"; do
		echo "$soname ${SONAME_FILE[$soname]} ${SONAME_DEST[$soname]}"
	done | sort >"$out"
}

# ---------------------------------------------------------------------------------------------
# Kernel

# Writes the uncompressed kernel inside a bzImage. The boot protocol header (2.08+) gives the
# payload's offset and length: payload_offset at 0x248, payload_length at 0x24c, counted from the
# protected-mode code, which starts after (setup_sects + 1) sectors (setup_sects at 0x1f1, 0 = 4).
extract_vmlinux() { # bzImage out
	local image=$1 out=$2 setup_sects offset length magic
	setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$image" | tr -d ' ')
	[ "$setup_sects" -eq 0 ] && setup_sects=4
	read -r offset length < <(od -An -tu4 -j $((0x248)) -N8 "$image")
	offset=$(((setup_sects + 1) * 512 + offset))
	magic=$(od -An -tx1 -j "$offset" -N6 "$image" | tr -d ' \n')
	# shellcheck disable=SC2054 # dd's flag list
	local -a payload=(dd if="$image" iflag=skip_bytes,count_bytes skip="$offset" count="$length"
		status=none)
	case $magic in
	fd377a585a00*) "${payload[@]}" | xz -dc --single-stream >"$out.tmp" ;;
	28b52ffd*) "${payload[@]}" | zstd -dcq >"$out.tmp" ;;
	1f8b*) "${payload[@]}" | gzip -dcq >"$out.tmp" ;;
	*) die "unknown kernel compression (magic $magic) in $image" ;;
	esac
	[ "$(od -An -tx1 -N4 "$out.tmp" | tr -d ' ')" = 7f454c46 ] ||
		die "the payload of $image is not an ELF kernel"
	# XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point direct ELF loaders use.
	readelf -n "$out.tmp" | grep -q 'Xen.*0x00000012' || log "warning: $out has no PVH entry note"
	mv "$out.tmp" "$out"
}

# Copies the modules given and their dependencies into the stage, then runs depmod there.
stage_modules() { # kernel-dir version
	local kdir=$1 kver=$2 mod kind path
	local -A files=()
	[ -f "$kdir/lib/modules/$kver/modules.dep" ] || depmod -b "$kdir" "$kver"
	for mod in "${MODULES[@]}"; do
		if ! modprobe -d "$kdir" -S "$kver" --show-depends "$mod" >"$CACHE/deps" 2>/dev/null; then
			[ -n "${QUIET_MISSING[$mod]:-}" ] || log "note: module $mod is not in kernel $kver"
			continue
		fi
		while read -r kind path _; do
			[ "$kind" = insmod ] && files[${path#"$kdir"/}]=1
		done <"$CACHE/deps"
	done
	rm -f "$CACHE/deps"
	for path in "${!files[@]}"; do
		mkdir -p "$STAGE/${path%/*}"
		cp "$kdir/$path" "$STAGE/$path"
	done
	cp "$kdir/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} "$STAGE/lib/modules/$kver/"
	depmod -b "$STAGE" "$kver"
	for path in "${!files[@]}"; do
		path=${path##*/}
		echo "${path%.ko}"
	done | sort >"$OUT/modules.list.tmp"
}

# ---------------------------------------------------------------------------------------------
# Initramfs

# A newc entry for a node cpio can only take from the file system as root: mode, major, minor.
newc_entry() { # name mode rdevmajor rdevminor
	local name=$1 mode=$2 major=$3 minor=$4 namesize
	namesize=$((${#name} + 1))
	# magic ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize
	# check; header and name are padded to a multiple of 4 bytes.
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		0 "$mode" 0 0 1 0 0 0 0 "$major" "$minor" "$namesize" 0
	printf '%s\0' "$name"
	head -c $(((4 - (110 + namesize) % 4) % 4)) /dev/zero
}

# /dev/console must exist before /init runs: the kernel opens it for init's stdin, stdout and
# stderr from the initramfs, before anything mounts devtmpfs.
device_nodes_cpio() {
	newc_entry dev $((0040755)) 0 0
	newc_entry dev/console $((0020600)) 5 1
	newc_entry 'TRAILER!!!' 0 0 0
}

stage_tree() { # kernel-dir version libraries-file
	local kdir=$1 kver=$2 libs=$3 entry path applet soname file dest
	rm -rf "$STAGE"
	mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,root,etc,mnt} \
		"$STAGE/usr/share/udhcpc" "$STAGE/lib/modules/$kver"
	install -d -m 1777 "$STAGE/tmp"

	for entry in "${PROGRAMS[@]}"; do
		path=${entry#*:}
		mkdir -p "$STAGE/${path%/*}"
		cp "${PACKAGE_DIR[${entry%%:*}]}/$path" "$STAGE/$path"
	done
	# The applet links, as busybox itself lists them (it is static: it runs on the build host).
	while read -r applet; do
		[ -e "$STAGE/$applet" ] && continue
		mkdir -p "$STAGE/${applet%/*}"
		ln -s /bin/busybox "$STAGE/$applet"
	done < <("$STAGE/bin/busybox" --list-full)

	while read -r soname file dest; do
		mkdir -p "$STAGE/${dest%/*}"
		cp -L "$file" "$STAGE/$dest"
		# The interpreter is named by this path in every program; libc6 ships it elsewhere.
		if [ "$soname" = ld-linux-x86-64.so.2 ] && [ "$dest" != "lib64/$soname" ]; then
			mkdir -p "$STAGE/lib64"
			ln -s "/$dest" "$STAGE/lib64/$soname"
		fi
	done <"$libs"

	stage_modules "$kdir" "$kver"

	install -m 0755 "$HERE/init" "$STAGE/init"
	install -m 0755 "$HERE/udhcpc.script" "$STAGE/usr/share/udhcpc/default.script"
	echo "root:x:0:0:root:/root:/bin/sh" >"$STAGE/etc/passwd"
	echo "root:x:0:" >"$STAGE/etc/group"
	echo "hostvisor-guest" >"$STAGE/etc/hostname"
	: >"$STAGE/etc/ld.so.conf"
	ldconfig -r "$STAGE" 2>/dev/null || true
}

pack_initramfs() { # out
	# Same inputs, same bytes: every file gets the same time stamp.
	find "$STAGE" -exec touch -h -d @0 {} +
	(
		cd "$STAGE"
		find . -mindepth 1 | sed 's|^\./||' | sort | cpio -o -H newc -R 0:0 --reproducible --quiet
		device_nodes_cpio
	) >"$CACHE/initrd.cpio"
	# zstd: CONFIG_RD_ZSTD=y in Debian's kernel, and it unpacks several times faster than gzip or
	# xz, which counts on a software CPU.
	zstd -q -f -19 -T0 "$CACHE/initrd.cpio" -o "$1.tmp"
	mv "$1.tmp" "$1"
	# The same archive uncompressed, for the emu engine: unpacking zstd costs a third of its
	# boot (hostvisor loads initrd.cpio by default there, as it loads vmlinux).
	mv "$CACHE/initrd.cpio" "$2"
}

# ---------------------------------------------------------------------------------------------

main() {
	local kpkg kver kdir entry key stamp programs=()
	kpkg=$(kernel_package)
	[ -n "$kpkg" ] || die "cannot tell the kernel package linux-image-amd64 depends on"
	kver=${kpkg#linux-image-}

	local roots=("$kpkg")
	for entry in "${PROGRAMS[@]}"; do roots+=("${entry%%:*}"); done
	fetch_packages "${roots[@]}"
	kdir=${PACKAGE_DIR[$kpkg]}
	for entry in "${PROGRAMS[@]}"; do programs+=("${PACKAGE_DIR[${entry%%:*}]}/${entry#*:}"); done

	# The library closure depends only on the programs' packages and this script: resolve it
	# again only when one of them changed.
	key=$({
		for entry in "${roots[@]}"; do echo "${PACKAGE_DIR[$entry]##*/}"; done
		cat "$HERE/build.sh"
	} | sha256sum | cut -d' ' -f1)
	if [ "$(head -1 "$CACHE/libraries" 2>/dev/null)" != "$key" ]; then
		resolve_libraries "$CACHE/libraries.tmp" "${programs[@]}"
		sed -i "1i $key" "$CACHE/libraries.tmp"
		mv "$CACHE/libraries.tmp" "$CACHE/libraries"
	fi

	stamp=$({
		cat "$CACHE/libraries"
		cat "$HERE/init" "$HERE/udhcpc.script" "$HERE/kallsyms.py"
	} | sha256sum | cut -d' ' -f1)
	if [ "$(cat "$OUT/.stamp" 2>/dev/null)" = "$stamp" ] && [ -f "$OUT/vmlinuz" ] &&
		[ -f "$OUT/vmlinux" ] && [ -f "$OUT/System.map" ] && [ -f "$OUT/initrd.img" ] &&
		[ -f "$OUT/initrd.cpio" ] &&
		[ -f "$OUT/modules.list" ]; then
		return 0
	fi
	log "building the guest for kernel $kver"
	rm -f "$OUT/.stamp"

	cp "$kdir/boot/vmlinuz-$kver" "$OUT/vmlinuz"
	extract_vmlinux "$OUT/vmlinuz" "$OUT/vmlinux"
	# Debian ships a one-line placeholder System.map (the real one is in the 850 MB -dbg
	# package): rebuild it from the kernel's own kallsyms tables then.
	if [ "$(wc -l <"$kdir/boot/System.map-$kver")" -gt 1000 ]; then
		cp "$kdir/boot/System.map-$kver" "$OUT/System.map"
	else
		python3 "$HERE/kallsyms.py" "$OUT/vmlinux" >"$OUT/System.map.tmp"
		mv "$OUT/System.map.tmp" "$OUT/System.map"
	fi
	echo "$kver" >"$OUT/kernel.version"

	tail -n +2 "$CACHE/libraries" >"$CACHE/libraries.list"
	stage_tree "$kdir" "$kver" "$CACHE/libraries.list"
	pack_initramfs "$OUT/initrd.img" "$OUT/initrd.cpio"
	mv "$OUT/modules.list.tmp" "$OUT/modules.list"
	echo "$stamp" >"$OUT/.stamp"
	log "done: initrd $(du -k "$OUT/initrd.img" | cut -f1) KiB," \
		"$(wc -l <"$OUT/modules.list") modules"
}

main
