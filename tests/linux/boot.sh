#!/usr/bin/env bash
# An unmodified Debian Linux boots under amalgam inside the lab (nested KVM)
# and its /init sees every vCPU and about the memory given.
# Usage: boot.sh AMALGAM CPUS MEMORY_MB [amalgam run options...]
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
amalgam=$1 cpus=$2 mem_mb=$3
shift 3
cd "$here"
scripts/guest >/dev/null || { echo "FAIL: scripts/guest failed"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
scripts/lab -t 900 -- sh -c 'timeout 600 "$@"; echo "amalgam-exit=$?"' sh \
	"$amalgam" run --cpus "$cpus" --memory "${mem_mb}M" "$@" \
	--kernel build/guest/bzImage --initrd build/guest/initramfs.cpio.gz \
	--append "console=ttyS0" >"$log" 2>&1
lab=$?
fail() {
	echo "FAIL: $*"
	echo "---- last lines of the guest and amalgam output ----"
	tail -40 "$log"
	exit 1
}
[ $lab -eq 0 ] || fail "scripts/lab exited $lab"
grep -q '^amalgam-guest: init' "$log" || fail "the guest never reached /init"
nproc=$(sed -n 's/^nproc=\([0-9]*\).*/\1/p' "$log" | head -1)
mem=$(sed -n 's/^memtotal_kb=\([0-9]*\).*/\1/p' "$log" | head -1)
[ "$nproc" = "$cpus" ] || fail "guest saw nproc=$nproc, expected $cpus"
# The kernel keeps some memory for itself: expect at least 80% of it.
[ -n "$mem" ] && [ "$mem" -ge $((mem_mb * 1024 * 8 / 10)) ] ||
	fail "guest saw memtotal_kb=$mem for ${mem_mb} MiB"
grep -q '^amalgam-exit=0' "$log" || fail "amalgam did not exit 0 after the guest rebooted"
if grep -q 'Marking TSC unstable' "$log"; then
	echo "note: the guest marked the TSC unstable (QEMU/KVM in the lab does too)"
fi
echo "ok: nproc=$nproc memtotal_kb=$mem, amalgam exited 0"
