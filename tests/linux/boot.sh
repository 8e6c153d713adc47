#!/usr/bin/env bash
# An unmodified Debian Linux boots under amalgam inside the lab (nested KVM),
# its /init sees every vCPU and about the memory given, optionally runs the
# parallel workload (amalgam-workload: multi-threaded xz with a checked
# sha256), and the guest's ACPI power-off ends amalgam with status 0. The guest's
# clocksource must stay stable: no "TSC unstable", no watchdog switch.
# Usage: boot.sh AMALGAM CPUS MEMORY_MB [--nodes N] [--vms] [--workload]
#                [--timeout SECONDS] [amalgam run options...]
# --vms: one lab VM per node joined by a virtual network (scripts/lab-cluster)
# instead of all nodes as processes in one lab.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/linux/lib.sh"
amalgam=$1 cpus=$2 mem_mb=$3
shift 3
nodes=1 workload=0 tmo=600 vms=0
while [ $# -gt 0 ]; do
	case $1 in
	--nodes) nodes=$2; shift 2 ;;
	--workload) workload=1; shift ;;
	--vms) vms=1; shift ;;
	--timeout) tmo=$2; shift 2 ;;
	*) break ;;
	esac
done
cd "$here"
scripts/guest >/dev/null || { echo "FAIL: scripts/guest failed"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
append="console=ttyS0"
[ $workload = 1 ] && append="$append amalgam.run=amalgam-workload"
# Across nodes the lab loads kvm_amd with shadow paging: QEMU's TCG walks
# an L2 guest's page tables through the nested page tables as writes, so
# with nested paging every TLB refill by either node bounces the guest's
# page-table pages between the nodes (DESIGN.md, "Testing"; README).
# One lab CPU: with two, the lab's TCG marks its TSC unstable, nested KVM
# then moves the guest's TSC offset itself, and runs across nodes have
# stalled there (after "processors activated", seen twice).
npt=1 smp=1
[ "$nodes" -gt 1 ] && npt=0
start=$(date +%s)
if [ $vms = 1 ]; then
	# amalgam's exit status is lab-cluster's (124 when it timed out).
	AMALGAM_LAB_NPT=$npt scripts/lab-cluster -n "$nodes" -a "$amalgam" -t "$tmo" -- \
		--cpus "$cpus" --memory "${mem_mb}M" --stats "$@" \
		--kernel build/guest/bzImage --initrd build/guest/initramfs.cpio.gz \
		--append "$append" >"$log" 2>&1
	rc=$?
	echo "amalgam-exit=$rc" >>"$log"
	lab=0
	[ $rc = 124 ] || [ $rc = 125 ] && lab=$rc
else
	AMALGAM_LAB_NPT=$npt LAB_SMP=$smp lab_amalgam "$log" "$tmo" \
		"$amalgam" run --nodes "$nodes" --cpus "$cpus" --memory "${mem_mb}M" --stats "$@" \
		--kernel build/guest/bzImage --initrd build/guest/initramfs.cpio.gz \
		--append "$append"
	lab=$?
fi
secs=$(($(date +%s) - start))
[ $lab -eq 0 ] || fail "the lab exited $lab"
grep -q '^amalgam-guest: init' "$log" || fail "the guest never reached /init"
nproc=$(sed -n 's/^nproc=\([0-9]*\).*/\1/p' "$log" | head -1)
mem=$(sed -n 's/^memtotal_kb=\([0-9]*\).*/\1/p' "$log" | head -1)
[ "$nproc" = "$cpus" ] || fail "guest saw nproc=$nproc, expected $cpus"
# The kernel keeps some memory for itself: expect at least 80% of it.
[ -n "$mem" ] && [ "$mem" -ge $((mem_mb * 1024 * 8 / 10)) ] ||
	fail "guest saw memtotal_kb=$mem for ${mem_mb} MiB"
if [ $workload = 1 ]; then
	grep -q "^workload=ok threads=$cpus " "$log" ||
		fail "the workload did not finish with workload=ok threads=$cpus"
	grep -q '^amalgam.status=0' "$log" || fail "the workload's status was not 0"
fi
grep -q 'reboot: Power down' "$log" || fail "the guest did not power off (ACPI S5)"
grep -q '^amalgam-exit=0' "$log" || fail "amalgam did not exit 0 after the guest powered off"
if grep -E -q 'Marking TSC unstable|Marking clocksource .* as unstable' "$log"; then
	fail "the guest's clocksource was not stable: $(grep -E -m1 'Marking (TSC|clocksource)' "$log")"
fi
# Linux turns on KVM's paravirtual EOI when CPUID offers it: most of its
# EOIs are then a flag in its memory, not an exit (irq/lapic.h).
pv=$(sed -n 's/.* vcpu [0-9]*: .* eois=\([0-9]*\) pv_eois=\([0-9]*\) .*/\1 \2/p' "$log" |
     awk '{ e += $1; p += $2 } END { print e + 0, p + 0 }')
[ "${pv#* }" -gt 0 ] || fail "no EOI went through the paravirtual flag (eois, pv_eois: $pv)"
echo "EOIs, of which by the paravirtual flag: $pv"
if [ "$nodes" -gt 1 ]; then
	# Really across nodes: the banner names them all, and node 0 took
	# pages (or the right to write them) from the others.
	grep -q "^amalgam: $nodes nodes, $cpus vCPUs" "$log" ||
		fail "amalgam did not report $nodes nodes and $cpus vCPUs"
	remote=$(awk '/^memory plane, node 0:/ { on = 1; next }
		/^memory plane, node/ { on = 0 }
		on && / remote, p50/ { for (i = 2; i <= NF; i++) if ($i == "remote,") n += $(i-1) }
		END { print n + 0 }' "$log")
	[ "$remote" -gt 0 ] || fail "node 0 resolved no page fault from another node"
	echo "node 0 resolved $remote page faults from other nodes"
	# vCPUs that started on other nodes were brought up there by INIT and
	# SIPI from the BSP on node 0: interrupts crossed nodes.
	if grep -m1 "^amalgam: $nodes nodes, $cpus vCPUs:" "$log" |
	   grep -Eq 'node [1-9][0-9]* \[[0-9]'; then
		sent=$(sed -n 's/.*cross-node: interrupts sent \([0-9]*\).*/\1/p' "$log" |
		       awk '{ n += $1 } END { print n + 0 }')
		[ "$sent" -gt 0 ] || fail "vCPUs started on other nodes, yet no interrupt crossed nodes"
	fi
fi
echo "$(grep -m1 '^amalgam: .*nodes' "$log" || echo "amalgam: 1 node")"
grep -m1 'at the end (vCPUs moved' "$log" || true
grep -m1 '^workload=' "$log" || true
grep 'cross-node:' "$log" || true
echo "ok: nodes=$nodes nproc=$nproc memtotal_kb=$mem, amalgam exited 0, ${secs}s in the lab"
