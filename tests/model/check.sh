#!/usr/bin/env bash
# Model-checks the coherence protocol (dsm.pml, the Promela model of
# src/dsm with eviction) with spin, exhaustively: it must pass, and the
# deliberately broken variant (-DBROKEN: the home throws written-back
# contents away) must fail, which shows that the check can fail.
# Usage: check.sh [SPIN]; DSM_MODEL_ARGS adds spin options (-DOPS2=2:
# larger bounds, see dsm.pml).
set -uo pipefail
SPIN=${1:-spin}
if ! command -v "$SPIN" >/dev/null; then
	echo "dsm-model: spin not found (scripts/setup installs Debian's spin)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$(dirname "$0")/dsm.pml" "$tmp/"
cd "$tmp" || exit 1

# check NAME SPIN-OPTIONS...: 0 if spin found no error, 1 if it did.
check() {
	local name=$1
	shift
	rm -f pan pan.* ./*.trail
	# shellcheck disable=SC2086
	if ! "$SPIN" ${DSM_MODEL_ARGS:-} "$@" -a dsm.pml >spin.log 2>&1 ||
		! cc -O0 -w -DSAFETY -DCOLLAPSE -o pan pan.c >cc.log 2>&1; then
		echo "dsm-model: $name: cannot build the verifier"
		cat spin.log cc.log
		exit 1
	fi
	./pan -m100000 >pan.log 2>&1
	echo "dsm-model: $name: $(grep -m1 -oE 'errors: [0-9]+' pan.log)," \
		"$(grep -m1 -oE '[0-9]+ states, stored' pan.log)," \
		"$(grep -m1 -oE 'elapsed time [0-9.]+ seconds' pan.log)"
	if grep -q "max search depth too small" pan.log; then
		echo "dsm-model: $name: search depth too small, the check is incomplete"
		exit 1
	fi
	grep -q "errors: 0" pan.log
}

fails=0
if check "protocol (3 nodes, 2 pages, eviction)"; then
	echo "ok   the protocol keeps one writer or many readers, loses no write, answers every request"
else
	echo "FAIL the protocol:"
	grep -m3 -E "assertion violated|invalid end state" pan.log
	"$SPIN" -t -p dsm.pml 2>/dev/null | tail -20
	fails=$((fails + 1))
fi
if check "broken variant (-DBROKEN)" -DBROKEN; then
	echo "FAIL the broken variant passed: the check cannot fail"
	fails=$((fails + 1))
elif grep -q "assertion violated" pan.log; then
	echo "ok   the broken variant is caught: $(grep -m1 'assertion violated' pan.log | cut -c1-120)"
else
	echo "FAIL the broken variant failed, but not on an assertion"
	fails=$((fails + 1))
fi
exit $fails
