# Shared helpers for scripts/*: sourced, never run.
# Callers set `set -euo pipefail` and PROG (used in messages).

: "${PROG:=${0##*/}}"
# Make `$(...)` fail like any other command under set -e.
shopt -s inherit_errexit

# Repository root (the checkout holding this file) and the build cache.
AMALGAM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AMALGAM_BUILD=$AMALGAM_ROOT/build

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
note() { [ "${QUIET:-0}" = 1 ] || printf '%s: %s\n' "$PROG" "$*" >&2; }

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || die "'$c' not found (install it first)"
	done
}

# with_lock FILE CMD...: run CMD holding an exclusive flock on FILE, so
# concurrent builds of the same cache entry serialize instead of racing.
with_lock() {
	local lock=$1; shift
	mkdir -p "$(dirname "$lock")"
	(
		flock 9 || die "cannot lock $lock"
		"$@"
	) 9>"$lock"
}

# inputs_hash ITEM...: one sha256 over strings and file contents; an item
# naming an existing file contributes its name and contents, any other item
# contributes itself (e.g. a package version).
inputs_hash() {
	local i
	for i in "$@"; do
		if [ -f "$i" ]; then
			printf 'file %s\n' "${i##*/}"
			sha256sum <"$i"
		else
			printf 'str %s\n' "$i"
		fi
	done | sha256sum | cut -d' ' -f1
}

# stamp_ok STAMP HASH OUTPUT...: true if STAMP holds HASH and every OUTPUT exists.
stamp_ok() {
	local stamp=$1 hash=$2 f; shift 2
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] || return 1
	for f in "$@"; do [ -e "$f" ] || return 1; done
}
