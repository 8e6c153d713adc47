#!/usr/bin/env bash
# Linux with its root file system on a virtio-blk disk (build/guest/root.img,
# a fresh copy): the initramfs loads the virtio and ext4 modules and
# switches to root=/dev/vda; the guest writes a file of random bytes, prints
# its sha256, syncs and powers off; then, on the host, the file read out of
# the image (debugfs, no mount) must have the same sha256. The guest must
# have enumerated the PCI bus from ACPI with no pci= option.
# Usage: disk.sh AMALGAM [--timeout S] [--disk-node N] [amalgam run options...]
# (e.g. --disk-node 1 --nodes 2 --place 0: the disk hosted by node 1, which
# opens the image and serves it, the vCPU on node 0).
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/linux/lib.sh"
amalgam=$1
shift
tmo=600
dnode=0
if [ "${1:-}" = --timeout ]; then tmo=$2; shift 2; fi
if [ "${1:-}" = --disk-node ]; then dnode=$2; shift 2; fi
cd "$here"
scripts/guest >/dev/null || { echo "FAIL: scripts/guest failed"; exit 1; }
# Inside the checkout: the lab mounts it read-write at the same path.
work=$(mktemp -d "$here/build/linux-disk.XXXXXX")
log=$work/log
trap 'rm -rf "$work"' EXIT
cp build/guest/root.img "$work/root.img"
# Remounting / read-only at the end checkpoints the journal, so that the
# image is clean for e2fsck and debugfs on the host.
cmd='grep " / " /proc/mounts; dd if=/dev/urandom of=/data.bin bs=4096 count=512 2>/dev/null && sha256sum /data.bin && sync && mount -o remount,ro / && echo remounted-ro'
append="console=ttyS0 root=/dev/vda amalgam.run64=$(printf %s "$cmd" | base64 -w0)"
# Across nodes the lab loads kvm_amd with shadow paging (as boot.sh does,
# which says why).
case " $* " in *" --nodes "*) export AMALGAM_LAB_NPT=0 ;; esac
start=$(date +%s)
lab_amalgam "$log" "$tmo" "$amalgam" run --cpus 1 --memory 512M --stats "$@" \
	--disk "$work/root.img,node=$dnode" --kernel build/guest/bzImage \
	--initrd build/guest/initramfs.cpio.gz --append "$append"
lab=$?
secs=$(($(date +%s) - start))
FAIL_TAIL=80
[ $lab -eq 0 ] || fail "the lab exited $lab"
grep -q 'amalgam-guest: root /dev/vda' "$log" || fail "the initramfs did not look for root=/dev/vda"
grep -qE 'PCI host bridge to bus 0000:00' "$log" || fail "Linux found no PCI host bridge"
grep -qE '^/dev/vda / ext4 rw' "$log" || fail "/ is not /dev/vda mounted read-write"
want=$(sed -n 's|^\([0-9a-f]\{64\}\)  /data.bin.*|\1|p' "$log" | head -1)
[ -n "$want" ] || fail "the guest printed no sha256 of /data.bin"
grep -q 'reboot: Power down' "$log" || fail "the guest did not power off"
grep -q '^amalgam-exit=0' "$log" || fail "amalgam did not exit 0"
grep -q '^remounted-ro' "$log" || fail "the guest could not remount / read-only"
e2fsck -fn "$work/root.img" >"$work/fsck" 2>&1 || { cat "$work/fsck"; fail "e2fsck finds the image damaged"; }
debugfs -R "dump /data.bin $work/data.bin" "$work/root.img" >/dev/null 2>&1 ||
	fail "debugfs cannot read /data.bin from the image"
got=$(sha256sum "$work/data.bin" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "sha256 on the host $got, in the guest $want"
grep -qE '^vda: reads [1-9]' "$log" || fail "no disk served reads (no vda line in --stats)"
if [ "$dnode" != 0 ]; then
	grep -qE "^amalgam\[$dnode\] cross-node: .*device accesses forwarded [0-9]+ served [1-9]" "$log" ||
		fail "node $dnode served no device access"
fi
grep -E '^vda:' "$log"
echo "OK: root on /dev/vda (hosted by node $dnode), /data.bin (2 MiB) written, synced and read back from the image on the host ($secs s)"
