#!/usr/bin/env bash
# A cut link between two nodes, each in its own network namespace joined
# by a veth pair: the link goes down with no FIN and no RST (as when a
# switch dies): the side whose interface went down may learn it from a
# send (network unreachable), the other only from the heartbeats; both
# declare the other lost within the peer timeout and stop, naming it
# with the reason. Skipped (77)
# where namespaces or veth are not available. Usage: partition.sh AMALGAM
set -uo pipefail
. "$(dirname "$0")/lib.sh" "$1"

[ "$(id -u)" -eq 0 ] || { echo "partition: needs root for network namespaces: skipped"; exit 77; }
A=amlg-a$$ B=amlg-b$$
cleanup() { ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null; }
trap 'kill $(jobs -p) 2>/dev/null; cleanup; rm -rf "$TMP"' EXIT
if ! { ip netns add $A && ip netns add $B &&
       ip link add va$$ netns $A type veth peer name vb$$ netns $B; } 2>"$TMP/e"; then
	echo "partition: cannot make namespaces and a veth pair ($(head -1 "$TMP/e")): skipped"
	exit 77
fi
ip -n $A addr add 10.216.0.1/24 dev va$$ && ip -n $A link set va$$ up && ip -n $A link set lo up &&
ip -n $B addr add 10.216.0.2/24 dev vb$$ && ip -n $B link set vb$$ up && ip -n $B link set lo up ||
	{ fail "cannot configure the veth pair"; exit 1; }

TMO=1000
"$AMALGAM" key "$TMP/k" || { fail "amalgam key"; exit 1; }
ip netns exec $B "$AMALGAM" node --listen 10.216.0.2:7016 --key "$TMP/k" --timeout 30 \
	>/dev/null 2>"$TMP/n1.err" &
n1=$!
sleep 0.3
ip netns exec $A "$AMALGAM" run --join 10.216.0.2:7016 --key "$TMP/k" --cpus 2 --start all \
	--memory 64M --kernel "$SPIN" --peer-timeout $TMO >"$TMP/out" 2>"$TMP/err" &
run=$!
if ! wait_for "$TMP/out" 'spin: running' 30; then
	fail "guest did not start"; tail -3 "$TMP/err" "$TMP/n1.err"; exit 1
fi
sleep 0.5
t0=$(now_ms)
ip -n $A link set va$$ down
for who in "0:$run:$TMP/err:1" "1:$n1:$TMP/n1.err:0"; do
	IFS=: read -r self pid err victim <<<"$who"
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		fail "node $self still running 10 s after the cut"; kill -9 "$pid"
	fi
	wait "$pid"; st=$?
	dt=$(( $(now_ms) - t0 ))
	if [ $st -eq 0 ]; then
		fail "node $self: status 0 after the cut"
	elif ! grep -q "lost node $victim (" "$err"; then
		fail "node $self: no message naming node $victim:"; tail -3 "$err"
	elif [ $dt -gt 5000 ]; then
		fail "node $self: stopped $dt ms after the cut (> 5 s)"
	else
		ok "link cut, node $self stopped in $dt ms: $(grep -m1 "lost node" "$err")"
	fi
done
echo "partition: $fails failure(s)"
[ $fails -eq 0 ]
