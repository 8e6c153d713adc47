#!/usr/bin/env bash
# --stats-every: both nodes of a run print sample lines, each with the
# guest's TSC (rising, and the two nodes' within the same stretch of
# time) and remote faults that grow while the spin guest's counter page
# crosses between the nodes. Usage: stats-every.sh AMALGAM
set -uo pipefail
. "$(dirname "$0")/lib.sh" "$1"

# The run lasts 4 s at the platform's pace (the lab's is 10-20 times slower).
scale=${AMALGAM_TEST_TIME_SCALE:-1}
timeout -s INT $((4 * scale)) "$AMALGAM" run --nodes 2 --cpus 2 --start all --memory 64M \
	--migrate off --stats-every 200 --kernel "$SPIN" >"$TMP/out" 2>"$TMP/err"
python3 - "$TMP/err" <<'PY' || fail "sample lines: $(grep -c sample "$TMP/err") seen"
import re, sys
s = {}
for n, t, f in re.findall(r"amalgam\[(\d)\] sample: gtsc=(\d+) remote_faults=(\d+) hot=\S*",
                          open(sys.argv[1]).read()):
    s.setdefault(n, []).append((int(t), int(f)))
assert set(s) == {"0", "1"}, f"nodes {sorted(s)}"
for n, l in s.items():
    assert len(l) >= 5, f"node {n}: {len(l)} lines"
    assert all(a[0] < b[0] for a, b in zip(l, l[1:])), f"node {n}: TSC not rising"
    assert all(a[1] <= b[1] for a, b in zip(l, l[1:])), f"node {n}: faults fell"
    assert l[-1][1] > l[0][1], f"node {n}: no remote faults while the page crossed"
# One TSC for the guest on both nodes: their last samples, taken within
# an interval of each other, lie within 10^10 ticks (seconds at any rate).
assert abs(s["0"][-1][0] - s["1"][-1][0]) < 10**10, "the nodes' TSCs disagree"
print("ok: samples from both nodes:", {n: len(l) for n, l in s.items()})
PY
echo "stats-every: $fails failure(s)"
[ $fails -eq 0 ]
