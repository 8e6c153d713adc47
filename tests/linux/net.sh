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
# With --disk-node N and --net-node M the disk is hosted by node N (which
# opens the image) and the card by node M (which opens the tap): with
# --nodes 3 --place 0 the seeds' scenario, a processor of one host reading
# from the disk of a second and fetching through the card of a third.
# Usage: net.sh AMALGAM [--timeout S] [--disk-node N] [--net-node M]
#               [amalgam run options...]
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/linux/lib.sh"
amalgam=$1
shift
tmo=600
if [ "${1:-}" = --timeout ]; then tmo=$2; shift 2; fi
dnode=0 nnode=0
if [ "${1:-}" = --disk-node ]; then dnode=$2; shift 2; fi
if [ "${1:-}" = --net-node ]; then nnode=$2; shift 2; fi
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
lab_amalgam "$log" "$tmo" bash "$here/tests/linux/net-inlab.sh" "$work/www/data.bin" "$nnode" \
	"$amalgam" run --cpus 1 --memory 512M --stats "$@" \
	--disk "$work/root.img,node=$dnode" --rng --console "file=$work/hvc0.log" \
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
# Each device served by the node that hosts it: its counters are in that
# node's --stats block (one write each, from "amalgam[N] stats:" on; a
# node prints only the devices it runs), and show requests served.
python3 - "$log" "$dnode" "$nnode" <<'PY' || fail "the devices' nodes"
import re, sys
text = open(sys.argv[1], errors="replace").read().replace("\r", "")
where = {}
for m in re.finditer(r"^amalgam\[(\d+)\] stats:(.*?)(?=^amalgam\[\d+\] stats:|\Z)", text, re.M | re.S):
    for dev, n in re.findall(r"^(vda|net0): \w+ (\d+)", m.group(2), re.M):
        where.setdefault(dev, []).append((m.group(1), int(n)))
for dev, node in (("vda", sys.argv[2]), ("net0", sys.argv[3])):
    assert where.get(dev), f"no --stats line for {dev}"
    assert [n for n, _ in where[dev]] == [node], f"{dev} counted on nodes {where[dev]}, not {node} alone"
    assert where[dev][0][1] > 0, f"{dev} on node {node} served nothing"
    print(f"ok: {dev} served by node {node}")
PY
grep -E '^(vda|net0|virtio-rng|hvc0):' "$log"
echo "OK: 1 MiB fetched over HTTP through virtio-net (node $nnode), written to the disk (node $dnode), sha256 equal; virtio-rng is hw_random; hvc0 carried a line ($secs s)"
