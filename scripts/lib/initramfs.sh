# Build initramfs trees and pack them: sourced. Needs common.sh.
#
#   ird_new DIR                      fresh tree with the usual directories
#   ird_busybox DIR BUSYBOX          static busybox and its applet links
#   ird_sysroot DIR PKGROOT...       merge unpacked packages into one sysroot
#   ird_elf DIR SYSROOT PATH...      copy dynamic executables (paths inside
#                                    SYSROOT) with their library closure
#   ird_modules DIR MODDIR NAME...   copy kernel modules and their
#                                    dependencies; writes lib/modules/order
#   ird_pack DIR OUT                 newc cpio (root-owned, /dev/console
#                                    included without needing mknod),
#                                    gzipped if OUT ends in .gz

ird_new() {
	rm -rf "$1"
	mkdir -p "$1"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,etc,root,mnt}
}

ird_busybox() {
	local d=$1 bb=$2 a
	[ -x "$bb" ] || die "no busybox at $bb"
	install -m 0755 "$bb" "$d/bin/busybox"
	while read -r a; do
		case $a in linuxrc | "") continue ;; esac
		[ -e "$d/$a" ] || [ -L "$d/$a" ] && continue
		mkdir -p "$d/$(dirname "$a")"
		ln -s /bin/busybox "$d/$a"
	done < <("$bb" --list-full)
}

ird_sysroot() {
	local d=$1 p; shift
	rm -rf "$d"
	mkdir -p "$d"
	for p in "$@"; do
		cp -a "$p/." "$d/"
	done
	rm -f "$d/.unpacked"
}

# The multiarch loader inside a sysroot (bookworm's libc6 layout).
_ird_ldso() {
	local f=$1/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
	[ -f "$f" ] || f=$1/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
	[ -f "$f" ] || die "no ld-linux-x86-64.so.2 in $1 (libc6 not unpacked?)"
	printf '%s\n' "$f"
}

ird_elf() {
	local d=$1 root=$2 ldso libpath bin lib list; shift 2
	ldso=$(_ird_ldso "$root")
	libpath=$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu
	# Libraries a package keeps in a directory of its own, found through
	# the RUNPATH of another (librados2's ceph/): the sysroot's copy, which
	# lands at the same path in the tree.
	for lib in $(find "$root/usr/lib/x86_64-linux-gnu" -mindepth 2 -name '*.so*' \
		-printf '%h\n' 2>/dev/null | sort -u); do
		libpath=$libpath:$lib
	done
	install -D -m 0755 "$ldso" "$d/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
	mkdir -p "$d/lib64"
	ln -sfn ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$d/lib64/ld-linux-x86-64.so.2"
	for bin in "$@"; do
		[ -f "$root/$bin" ] || die "no $bin in the unpacked packages"
		install -D -m 0755 "$root/$bin" "$d/$bin"
		# The sysroot's own loader lists the closure, resolved in the sysroot.
		list=$("$ldso" --library-path "$libpath" --list "$root/$bin") ||
			die "cannot list the libraries of $bin"
		while read -r lib; do
			case $lib in
			"$root"/*) install -D -m 0755 "$lib" "$d/${lib#"$root"/}" ;;
			*) die "$bin needs $lib, which no unpacked package provides" ;;
			esac
		done < <(printf '%s\n' "$list" | awk '$2 == "=>" { print ($3 == "not" ? $1 " (not found)" : $3) }')
	done
}

# _ird_ko FILE: a module's contents, decompressed (newer Debian kernels ship
# .ko.xz; busybox insmod wants plain .ko).
_ird_ko() {
	case $1 in
	*.ko.xz) xz -dc "$1" ;;
	*.ko.zst) zstd -dcq "$1" ;;
	*.ko.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}

ird_modules() {
	local d=$1 moddir=$2 f n; shift 2
	local -A path=() seen=()
	local order=()
	while read -r f; do
		n=${f##*/}; n=${n%.ko*}
		path[${n//-/_}]=$f
	done < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
	_ird_visit() {
		local n=${1//-/_} deps dep
		[ -n "${seen[$n]:-}" ] && return 0
		seen[$n]=1
		if [ -z "${path[$n]:-}" ]; then
			grep -qE "/${n//_/[-_]}\\.ko\$" "$moddir/modules.builtin" 2>/dev/null && return 0
			die "kernel module $1 not found in $moddir"
		fi
		deps=$(_ird_ko "${path[$n]}" | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1)
		for dep in ${deps//,/ }; do _ird_visit "$dep"; done
		order+=("$n")
	}
	for n in "$@"; do _ird_visit "$n"; done
	mkdir -p "$d/lib/modules"
	: >"$d/lib/modules/order"
	for n in "${order[@]}"; do
		_ird_ko "${path[$n]}" >"$d/lib/modules/$n.ko"
		printf '%s\n' "$n" >>"$d/lib/modules/order"
	done
}

# _ird_cpio_entry NAME MODE INO RDEVMAJOR RDEVMINOR: one empty newc entry.
_ird_cpio_entry() {
	local name=$1 mode=$2 ino=$3 maj=$4 min=$5 ns pad
	ns=$((${#name} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		"$ino" "$mode" 0 0 1 0 0 0 0 "$maj" "$min" "$ns" 0
	printf '%s\0' "$name"
	pad=$(((4 - (110 + ns) % 4) % 4))
	head -c "$pad" /dev/zero
}

ird_pack() {
	local d=$1 out=$2
	mkdir -p "$(dirname "$out")"
	# Every file dated 0 so the archive depends only on the contents.
	find "$d" -exec touch -h -d @0 {} +
	{
		# A first archive with /dev/console (the kernel opens it for /init),
		# so no mknod and no root are needed; the kernel unpacks both.
		_ird_cpio_entry dev $((8#040755)) 1 0 0
		_ird_cpio_entry dev/console $((8#020600)) 2 5 1
		_ird_cpio_entry 'TRAILER!!!' 0 0 0 0
		if cpio --version 2>/dev/null | grep -q GNU; then
			(cd "$d" && find . -mindepth 1 | LC_ALL=C sort |
				cpio -o -H newc -R 0:0 --reproducible --quiet)
		else
			(cd "$d" && find . -mindepth 1 | LC_ALL=C sort | ./bin/busybox cpio -o -H newc 2>/dev/null)
		fi
	} | if [ "${out%.gz}" != "$out" ]; then gzip -9n; else cat; fi >"$out.tmp"
	mv -f "$out.tmp" "$out"
}
