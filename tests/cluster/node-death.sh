#!/usr/bin/env bash
# A node that dies mid-run makes the others stop the guest within 5 s with
# a message naming it, never a hang; the pages it held are reported lost,
# not silently replaced. Usage: node-death.sh AMALGAM
set -uo pipefail
. "$(dirname "$0")/lib.sh" "$1"

for victim in 1 2; do
	"$AMALGAM" run --nodes 3 --cpus 3 --start all --memory 64M --kernel "$SPIN" \
		>"$TMP/out" 2>"$TMP/err" &
	run=$!
	if ! wait_for "$TMP/out" 'spin: running' 30; then
		fail "guest did not start"; kill -9 $run; wait $run; continue
	fi
	sleep 1
	# The spawned nodes are children of the run process, in node order.
	pids=($(pgrep -P $run))
	if [ ${#pids[@]} -ne 2 ]; then
		fail "expected 2 node processes, found ${#pids[@]}"; kill -9 $run; continue
	fi
	t0=$(now_ms)
	kill -9 "${pids[$((victim - 1))]}"
	for ((i = 0; i < 100; i++)); do kill -0 $run 2>/dev/null || break; sleep 0.1; done
	if kill -0 $run 2>/dev/null; then
		fail "coordinator still running 10 s after node $victim died"
		kill -9 $run
	fi
	wait $run
	st=$?
	dt=$(( $(now_ms) - t0 ))
	if [ $st -eq 0 ]; then
		fail "status 0 after losing node $victim"
	elif ! grep -q "lost node $victim" "$TMP/err"; then
		fail "no message naming node $victim:"; sed 's/^/    /' "$TMP/err" | tail -5
	elif [ $dt -gt 5000 ]; then
		fail "stopped after $dt ms (> 5 s)"
	else
		ok "node $victim killed: stopped in $dt ms, status $st: $(grep -m1 "lost node" "$TMP/err")"
	fi
	# The surviving joiner must not linger either.
	sleep 1
	left=$(for p in "${pids[@]}"; do kill -0 $p 2>/dev/null && echo $p; done)
	[ -z "$left" ] || { fail "node process(es) $left still alive"; kill -9 $left; }
done
echo "node-death: $fails failure(s)"
[ $fails -eq 0 ]
