#!/usr/bin/env bash
# A guest larger than any node's budget: four nodes of 12M home each and
# --cache 1M (budget 13M = 3328 pages), a working set of 9984 pages (3x
# the budget) over all four homes. The bigmem guest writes and re-reads
# every word of it from node 0 alone, then with writers on nodes 0 and 1
# sharing 2048 of its pages; nodes 2 and 3 have no vCPUs (memory donors)
# and serve their ranges. Checked here: the guest's own result (every
# word right), every node's resident pages within home range + cache at
# every --stats-every sample, and at the end that node 0 evicted and wrote
# back (so the budget was what kept it small) and that the donors served
# pages. In the lab (10-20 times slower) one round with both writers
# instead of two. Usage: bigmem.sh AMALGAM BIGMEM_ELF
set -uo pipefail
. "$(dirname "$0")/lib.sh" "$1"
GUEST=$2

scale=${AMALGAM_TEST_TIME_SCALE:-1}
rounds=3
[ "${AMALGAM_LAB:-0}" = 1 ] && rounds=2
timeout $((240 * scale)) "$AMALGAM" run --nodes 4 --start all --cpus 2 --place 0,1 \
	--memory 48M --migrate off --cache 1M --stats --stats-every 100 \
	--kernel "$GUEST" --append "nodes=4 pages=9984 shared=1536 rounds=$rounds" \
	>"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc -ne 0 ] || ! grep -q "SUMMARY: $((rounds + 1)) tests, 0 failures" "$TMP/out"; then
	fail "the guest (status $rc): $(grep -E 'FAIL|SUMMARY' "$TMP/out" | head -5)"
	tail -5 "$TMP/err"
fi
grep -q "amalgam\[0\]: cache 1M for other nodes' pages (--cache)" "$TMP/err" ||
	fail "node 0 did not print its cache"
python3 - "$TMP/err" <<'PY' || fail "budget"
import re, sys
text = open(sys.argv[1]).read()
s = {}
for n, r, c, b in re.findall(r"amalgam\[(\d)\] sample: .* resident=(\d+) cached=(\d+) budget=(-?\d+)", text):
    s.setdefault(n, []).append((int(r), int(c), int(b)))
assert set(s) == {"0", "1", "2", "3"}, f"samples from nodes {sorted(s)}"
for n, l in sorted(s.items()):
    assert len(l) >= 10, f"node {n}: {len(l)} samples"
    for r, c, b in l:
        assert b == 3072 + 256, f"node {n}: budget {b}, not 3328 pages"
        assert c <= 256, f"node {n}: {c} cached pages, more than the 256 of --cache 1M"
        assert r <= b, f"node {n}: {r} resident pages over its budget of {b}"
    print(f"ok: node {n}: {len(l)} samples, resident at most {max(x[0] for x in l)} of {b}")
# The final --stats, one block per node.
blocks = {}
for m in re.finditer(r"memory plane, node (\d+):\n((?:  .*\n)+)", text):
    blocks[m.group(1)] = m.group(2)
assert set(blocks) == {"0", "1", "2", "3"}, f"stats of nodes {sorted(blocks)}"
def num(n, pat):
    m = re.search(pat, blocks[n])
    assert m, f"node {n}: no '{pat}' in its --stats block"
    return int(m.group(1))
ev, wb = num("0", r"evictions (\d+) \(write-backs"), num("0", r"write-backs (\d+)\)")
assert ev >= 9984 - 3328 and wb > 0, f"node 0: {ev} evictions, {wb} write-backs"
print(f"ok: node 0 evicted {ev} copies, {wb} of them written back")
for n in ("2", "3"):
    served = num(n, r"sent \d+ msgs \((\d+) pages")
    taken = num(n, r"evictions taken as home (\d+)")
    assert served > 1000 and taken > 1000, f"donor {n}: {served} pages sent, {taken} evictions taken"
    print(f"ok: donor node {n} (no vCPU) sent {served} pages, took {taken} evictions")
PY
echo "bigmem: $fails failure(s)"
[ $fails -eq 0 ]
