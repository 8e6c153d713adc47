# Fetch and unpack Debian packages without installing them: sourced.
# Needs common.sh. Packages land in build/cache/debs (apt-get download),
# and are unpacked once into build/cache/root/<package>_<version>.

DEB_CACHE=$AMALGAM_BUILD/cache/debs
DEB_ROOTS=$AMALGAM_BUILD/cache/root

# apt-cache is slow (~1 s a call here), so answers are memoized in
# build/cache/apt/<key>/, the key changing whenever apt's lists or
# configuration change.
_deb_memo_dir() {
	local key
	key=$(ls -l --time-style=+%s /var/lib/apt/lists /etc/apt /etc/apt/sources.list.d \
		/etc/apt/preferences.d 2>/dev/null | sha256sum | cut -c1-16)
	printf '%s\n' "$AMALGAM_BUILD/cache/apt/$key"
}

# _deb_memo NAME CMD...: print CMD's output, computed once per apt state.
_deb_memo() {
	local f out
	f=$(_deb_memo_dir)/$1; shift
	if [ -f "$f" ]; then
		cat "$f"
		return 0
	fi
	out=$("$@")
	mkdir -p "$(dirname "$f")"
	printf '%s\n' "$out" >"$f.$$"
	mv -f "$f.$$" "$f"
	printf '%s\n' "$out"
}

_deb_candidate() {
	local v
	v=$(apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" && !n++ { print $2 }')
	[ "$v" = "(none)" ] || printf '%s\n' "$v"
}

# deb_candidate PKG: the version apt would install, or nothing.
deb_candidate() {
	local v
	v=$(_deb_memo "candidate-$1" _deb_candidate "$1")
	[ -z "$v" ] || printf '%s\n' "$v"
}

# deb_cached PKG [VERSION]: path of a cached .deb (newest if no VERSION).
deb_cached() {
	local pkg=$1 ver=${2:-} f
	if [ -n "$ver" ]; then
		for f in "$DEB_CACHE/${pkg}_${ver//:/%3a}_"*.deb; do
			[ -f "$f" ] && { printf '%s\n' "$f"; return 0; }
		done
		return 1
	fi
	f=$(ls "$DEB_CACHE/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n1) || true
	[ -n "$f" ] && printf '%s\n' "$f"
}

_deb_download() {
	local pkg=$1 ver=$2 opts=(-q)
	deb_cached "$pkg" "$ver" >/dev/null && return 0
	[ "$(id -u)" = 0 ] && opts+=(-o APT::Sandbox::User=root)
	note "downloading $pkg $ver"
	(cd "$DEB_CACHE" && apt-get "${opts[@]}" download "$pkg=$ver" >/dev/null) ||
		die "apt-get download $pkg=$ver failed"
}

# deb_fetch PKG: download the candidate version once; print the .deb path.
# Offline (no candidate or download fails) falls back to the newest cached.
deb_fetch() {
	local pkg=$1 ver f
	mkdir -p "$DEB_CACHE"
	need_cmd apt-get apt-cache dpkg-deb
	ver=$(deb_candidate "$pkg")
	if [ -n "$ver" ]; then
		if ! f=$(deb_cached "$pkg" "$ver"); then
			with_lock "$DEB_CACHE/.lock" _deb_download "$pkg" "$ver" || true
			f=$(deb_cached "$pkg" "$ver") || f=$(deb_cached "$pkg") ||
				die "cannot download Debian package $pkg"
		fi
	else
		f=$(deb_cached "$pkg") || die "no Debian package '$pkg' (apt-cache policy has no candidate; run apt-get update?)"
	fi
	printf '%s\n' "$f"
}

_deb_unpack() {
	local deb=$1 dir=$2
	[ -f "$dir/.unpacked" ] && return 0
	rm -rf "$dir.tmp"
	mkdir -p "$dir.tmp"
	dpkg-deb -x "$deb" "$dir.tmp" || die "dpkg-deb -x $deb failed"
	rm -rf "$dir"
	mv "$dir.tmp" "$dir"
	touch "$dir/.unpacked"
}

# deb_unpack PKG: fetch and unpack PKG once; print the directory.
deb_unpack() {
	local deb dir
	deb=$(deb_fetch "$1")
	dir=$DEB_ROOTS/$(basename "$deb" .deb)
	with_lock "$DEB_ROOTS/.lock" _deb_unpack "$deb" "$dir"
	printf '%s\n' "$dir"
}

_deb_lib_deps() {
	apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances "$1" 2>/dev/null |
		awk '$1 ~ /^\|?(Pre)?Depends:$/ && $2 ~ /^(lib|zlib)/ && $2 !~ /^libc-/ { print $2 }' |
		sort -u
}

# deb_lib_closure PKG...: PKG and every library package (lib*, zlib*) they need, following
# library dependencies only (a tool's shared-library closure, not its
# interpreters or init scripts), one per line.
deb_lib_closure() {
	local -A seen=()
	local todo=("$@") p d
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		[ -n "${seen[$p]:-}" ] && continue
		seen[$p]=1
		printf '%s\n' "$p"
		for d in $(_deb_memo "libdeps-$p" _deb_lib_deps "$p"); do
			[ -n "${seen[$d]:-}" ] || todo+=("$d")
		done
	done
}

# deb_newest_kernel SERIES: the newest linux-image package of a kernel
# series (e.g. 6.1 -> linux-image-6.1.0-NN-amd64, preferring the -unsigned
# build), among those apt can fetch; falls back to cached packages offline.
# Overridden by AMALGAM_KERNEL_PKG.
deb_newest_kernel() {
	local series=$1 re names base
	if [ -n "${AMALGAM_KERNEL_PKG:-}" ]; then
		printf '%s\n' "$AMALGAM_KERNEL_PKG"
		return 0
	fi
	re="^linux-image-${series//./\\.}(\\.[0-9]+)*[-+][0-9a-z.+-]*-amd64(-unsigned)?\$"
	names=$(_deb_memo "pkgnames-linux-image-$series" apt-cache pkgnames "linux-image-$series" |
		grep -E "$re" | grep -vE -e '-(cloud|rt)-amd64' || true)
	if [ -z "$names" ]; then
		names=$(ls "$DEB_CACHE" 2>/dev/null | sed -n 's/_.*\.deb$//p' | grep -E "$re" |
			grep -vE -e '-(cloud|rt)-amd64' || true)
	fi
	for base in $(printf '%s\n' "$names" | sed 's/-unsigned$//' | sort -uVr); do
		if [ -n "$(deb_candidate "$base-unsigned")" ] || deb_cached "$base-unsigned" >/dev/null; then
			printf '%s\n' "$base-unsigned"; return 0
		fi
		if [ -n "$(deb_candidate "$base")" ] || deb_cached "$base" >/dev/null; then
			printf '%s\n' "$base"; return 0
		fi
	done
	die "no linux-image-$series.*-amd64 package found (apt-get update?)"
}

# kernel_unpack PKG: unpack a kernel package; sets KERNEL_DIR (the unpacked
# tree), KERNEL_RELEASE (uname -r), KERNEL_IMAGE (vmlinuz), KERNEL_MODDIR.
kernel_unpack() {
	KERNEL_DIR=$(deb_unpack "$1")
	KERNEL_IMAGE=$(ls "$KERNEL_DIR"/boot/vmlinuz-* 2>/dev/null | head -n1) || true
	[ -n "$KERNEL_IMAGE" ] || die "$1 has no /boot/vmlinuz-*"
	KERNEL_RELEASE=${KERNEL_IMAGE##*/vmlinuz-}
	KERNEL_MODDIR=$KERNEL_DIR/lib/modules/$KERNEL_RELEASE
	[ -d "$KERNEL_MODDIR" ] || die "$1 has no /lib/modules/$KERNEL_RELEASE"
}

# kernel_vmlinux BZIMAGE OUT: extract the uncompressed ELF kernel from a
# bzImage. QEMU boots it through the PVH entry (with qboot), which skips the
# firmware's slow path and the in-guest decompression: under TCG that saves
# several seconds a boot. Fails if no payload decompresses to an ELF.
kernel_vmlinux() {
	local bz=$1 out=$2 name magic dec off
	for name in xz zstd gzip; do
		case $name in
		xz) magic='\xfd\x37\x7a\x58\x5a\x00' dec='xz -dc --single-stream' ;;
		zstd) magic='\x28\xb5\x2f\xfd' dec='zstd -dcq' ;;
		gzip) magic='\x1f\x8b\x08' dec='gzip -dc' ;;
		esac
		command -v "${dec%% *}" >/dev/null 2>&1 || continue
		for off in $(LC_ALL=C grep -obUaP "$magic" "$bz" | cut -d: -f1 | head -n4); do
			tail -c +$((off + 1)) "$bz" | $dec >"$out.tmp" 2>/dev/null || true
			if [ "$(head -c4 "$out.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
				mv -f "$out.tmp" "$out"
				return 0
			fi
		done
	done
	rm -f "$out.tmp"
	return 1
}
