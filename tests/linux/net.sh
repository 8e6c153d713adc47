#!/usr/bin/env bash
# Linux on the network (in the lab): its root on a virtio-blk disk, a
# virtio-net card on a tap whose host side (a network namespace of the
# test's own, inside the lab: tests/linux/net-inlab.sh) runs
# `python3 -m http.server`; the guest configures 10.0.77.2, fetches a 1 MiB
# file of random bytes with wget, writes it to its disk, syncs and prints
# its sha256, which must be the host's; then the file read out of the
# image on the host must have it too. The same boot checks virtio-rng
# (the kernel's hw_random uses it, and reads from it) and virtio-console
# (a line written to /dev/hvc0 lands in the console's file).
# Usage: net.sh AMALGAM [--timeout S] [amalgam run options...]
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/linux/lib.sh"
amalgam=$1
shift
tmo=600
if [ "${1:-}" = --timeout ]; then tmo=$2; shift 2; fi
cd "$here"
scripts/guest >/dev/null || { echo "FAIL: scripts/guest failed"; exit 1; }
work=$(mktemp -d "$here/build/linux-net.XXXXXX")
log=$work/log
trap 'rm -rf "$work"' EXIT
cp build/guest/root.img "$work/root.img"
mkdir "$work/www"
head -c 1048576 /dev/urandom >"$work/www/data.bin"
want=$(sha256sum "$work/www/data.bin" | cut -d' ' -f1)
cmd='ip link set eth0 up && ip addr add 10.0.77.2/24 dev eth0 &&
wget -q -O /data.bin http://10.0.77.1:8000/data.bin && sha256sum /data.bin &&
echo "rng: $(cat /sys/class/misc/hw_random/rng_current) $(head -c 16 /dev/hwrng | wc -c)" &&
echo "hello on hvc0" >/dev/hvc0 &&
sync && mount -o remount,ro / && echo remounted-ro'
append="console=ttyS0 root=/dev/vda amalgam.run64=$(printf %s "$cmd" | base64 -w0)"
start=$(date +%s)
lab_amalgam "$log" "$tmo" bash "$here/tests/linux/net-inlab.sh" "$work/www/data.bin" \
	"$amalgam" run --cpus 1 --memory 512M --stats "$@" \
	--disk "$work/root.img" --rng --console "file=$work/hvc0.log" \
	--kernel build/guest/bzImage --initrd build/guest/initramfs.cpio.gz --append "$append"
lab=$?
secs=$(($(date +%s) - start))
FAIL_TAIL=80
[ $lab -eq 0 ] || fail "the lab exited $lab"
grep -q '^amalgam-exit=0' "$log" || fail "amalgam did not exit 0"
got=$(sed -n 's|^\([0-9a-f]\{64\}\)  /data.bin.*|\1|p' "$log" | head -1)
[ -n "$got" ] || fail "the guest printed no sha256 of /data.bin (no network?)"
[ "$got" = "$want" ] || fail "the guest's sha256 $got, the host's $want"
grep -q '"GET /data.bin HTTP/1.[01]" 200' "$log" || fail "http.server logged no GET of /data.bin"
# (Serial console lines end in CR LF.)
grep -qE '^rng: virtio_rng[.0-9]* +16.?$' "$log" || fail "hw_random is not virtio_rng, or /dev/hwrng gave nothing"
grep -q '^remounted-ro' "$log" || fail "the guest could not remount / read-only"
tr -d '\r' <"$work/hvc0.log" 2>/dev/null | grep -qx 'hello on hvc0' ||
	fail "the line written to /dev/hvc0 is not in the console's file"
debugfs -R "dump /data.bin $work/disk.bin" "$work/root.img" >/dev/null 2>&1 ||
	fail "debugfs cannot read /data.bin from the image"
[ "$(sha256sum "$work/disk.bin" | cut -d' ' -f1)" = "$want" ] || fail "the file on the disk differs"
grep -E '^(net0|virtio-rng|hvc0):' "$log"
echo "OK: 1 MiB fetched over HTTP through virtio-net, written to the disk, sha256 equal; virtio-rng is hw_random; hvc0 carried a line ($secs s)"
