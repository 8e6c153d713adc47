#!/usr/bin/env bash
# Linux larger than any node's budget, inside the lab: 256M of guest RAM
# over 3 node processes, node 0 home to 16M with --cache 8M (budget 24M),
# nodes 1 and 2 home to 120M each (budget 128M), so no node's budget
# holds the guest. Its one vCPU, on node 0, sorts 36 MiB of keys (1.5x
# node 0's budget, through a second array of the same size: amalgam-
# bigsort, guests/linux/bigsort.c) and checks the result. Checked here:
# the sort's own check, the guest's power-off and amalgam's status 0,
# every node's resident pages within its budget at every --stats-every
# sample, and node 0's evictions and write-backs at the end.
# Usage: bigmem.sh AMALGAM [--timeout SECONDS]
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/tests/linux/lib.sh"
amalgam=$1
shift
tmo=900
[ "${1:-}" = --timeout ] && tmo=$2
cd "$here"
scripts/guest >/dev/null || { echo "FAIL: scripts/guest failed"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run=$(printf %s "amalgam-bigsort 36" | base64 -w0)
start=$(date +%s)
# Shadow paging and one lab CPU across nodes, as tests/linux/boot.sh says.
AMALGAM_LAB_NPT=0 LAB_SMP=1 lab_amalgam "$log" "$tmo" \
	"$amalgam" run --nodes 3 --cpus 1 --memory 256M --node-memory 16M,120M,120M \
	--cache 8M --migrate off --stats --stats-every 2000 \
	--kernel build/guest/bzImage --initrd build/guest/initramfs.cpio.gz \
	--append "console=ttyS0 amalgam.run64=$run"
lab=$?
secs=$(($(date +%s) - start))
[ $lab -eq 0 ] || fail "the lab exited $lab"
grep -q '^bigsort=ok mib=36 ' "$log" || fail "the sort did not finish with bigsort=ok"
grep -q '^amalgam.status=0' "$log" || fail "the sort's status was not 0"
grep -q 'reboot: Power down' "$log" || fail "the guest did not power off (ACPI S5)"
grep -q '^amalgam-exit=0' "$log" || fail "amalgam did not exit 0 after the guest powered off"
python3 - "$log" <<'PY' || fail "the budget"
import re, sys
text = open(sys.argv[1], errors="replace").read()
s = {}
for n, r, c, b in re.findall(r"amalgam\[(\d)\] sample: .* resident=(\d+) cached=(\d+) budget=(-?\d+)", text):
    s.setdefault(n, []).append((int(r), int(c), int(b)))
assert set(s) == {"0", "1", "2"}, f"samples from nodes {sorted(s)}"
want = {"0": (16 + 8) * 256, "1": (120 + 8) * 256, "2": (120 + 8) * 256}
for n, l in sorted(s.items()):
    for r, c, b in l:
        assert b == want[n], f"node {n}: budget {b}, not {want[n]}"
        assert r <= b, f"node {n}: {r} resident pages over its budget of {b}"
    print(f"ok: node {n}: {len(l)} samples, resident at most {max(x[0] for x in l)} of {want[n]}")
# The nodes' --stats blocks may interleave in one log: only node 0 has a
# vCPU, so the most evictions any node reports are node 0's.
ev = [tuple(map(int, m)) for m in
      re.findall(r"  pages: resident .* evictions (\d+) \(write-backs (\d+)\)", text)]
assert len(ev) == 3, f"{len(ev)} nodes' page counts in the --stats"
e, w = max(ev)
assert e > 9216 and w > 0, f"node 0: {e} evictions, {w} write-backs"
print(f"ok: node 0 evicted {e} copies, {w} of them written back")
PY
grep -m1 '^bigsort=' "$log"
echo "ok: Linux sorted 1.5x node 0's budget over 3 nodes within every budget, ${secs}s in the lab"
