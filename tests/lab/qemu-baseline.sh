#!/bin/bash
# tests/lab/qemu-baseline.sh [--workload]: the QEMU/KVM baseline in the lab.
#
# Boots the test guest (build/guest, made by scripts/guest) under
# qemu-system-x86_64 -enable-kvm -cpu host -smp 2 inside the lab (nested KVM,
# scripts/lab) and checks that it sees 2 CPUs and powers off cleanly; with
# --workload it also runs amalgam-workload (parallel xz) and checks its
# result. Prints the guest console and one timing line:
#   qemu-baseline: ok init=<s to "amalgam-guest: init"> total=<s> (lab: ...)
# Run from the host (it starts the lab itself) or inside the lab.
# Environment: LAB_TIMEOUT (default 900 s), GUEST_TIMEOUT (default 600 s).
set -euo pipefail
cd "$(dirname "$0")/../.."

workload=0
for a in "$@"; do
	case $a in
	--workload) workload=1 ;;
	*) echo "usage: tests/lab/qemu-baseline.sh [--workload]" >&2; exit 2 ;;
	esac
done

if [ -z "${AMALGAM_LAB:-}" ]; then
	scripts/guest -q
	rc=0
	scripts/lab -t "${LAB_TIMEOUT:-900}" -- tests/lab/qemu-baseline.sh "$@" || rc=$?
	echo "qemu-baseline: lab timing (s since lab start): $(cat build/lab/last-timing)"
	exit "$rc"
fi

. scripts/lib/timing.sh
fail() { echo "qemu-baseline: FAIL: $*"; exit 1; }
[ -c /dev/kvm ] || fail "no /dev/kvm in the lab"
[ -f build/guest/bzImage ] || fail "no build/guest/bzImage (run scripts/guest)"

append='console=ttyS0 quiet'
[ "$workload" = 1 ] && append="$append amalgam.run=amalgam-workload"
log=$(mktemp /tmp/qemu-baseline.XXXXXX)
rc=0
ts_run "$log" timeout "${GUEST_TIMEOUT:-600}" qemu-system-x86_64 \
	-enable-kvm -cpu host -smp 2 -m 512M \
	-nodefaults -no-reboot -display none -serial stdio \
	-kernel build/guest/bzImage -initrd build/guest/initramfs.cpio.gz \
	-append "$append" </dev/null || rc=$?
cat "$log"

[ "$rc" = 0 ] || fail "qemu-system-x86_64 exited with status $rc"
t_init=$(ts_find "$log" '^amalgam-guest: init') || fail "no 'amalgam-guest: init' line"
grep -q ' nproc=2$' "$log" || fail "the guest did not report nproc=2"
grep -q ' memtotal_kb=[0-9]' "$log" || fail "the guest did not report memtotal_kb"
if [ "$workload" = 1 ]; then
	grep -q ' workload=ok ' "$log" || fail "amalgam-workload did not succeed"
	grep -q ' amalgam.status=0$' "$log" || fail "the guest command did not exit 0"
fi
t_end=$(tail -n1 "$log" | cut -d' ' -f1)
echo "qemu-baseline: ok init=$t_init total=$t_end"
