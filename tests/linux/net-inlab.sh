#!/usr/bin/env bash
# Inside the lab (tests/linux/net.sh runs it there): a network namespace
# with a tap (10.0.77.1/24) and `python3 -m http.server` serving FILE's
# directory on it; amalgam runs in the namespace with --net on that tap and
# the rest of its arguments, the card hosted by node NODE. The server
# stops with amalgam.
# Usage: net-inlab.sh FILE NODE AMALGAM RUN-ARGS...
set -uo pipefail
file=$1 node=$2 amalgam=$3
shift 3
ns=amlg-lnet$$ tap=amlgtap0
trap 'kill $(jobs -p) 2>/dev/null; ip netns del $ns 2>/dev/null' EXIT
[ -c /dev/net/tun ] || modprobe tun 2>/dev/null
ip netns add $ns && ip -n $ns tuntap add dev $tap mode tap &&
	ip -n $ns addr add 10.0.77.1/24 dev $tap && ip -n $ns link set $tap up &&
	ip -n $ns link set lo up || { echo "net-inlab: cannot make the namespace and its tap"; exit 125; }
ip netns exec $ns python3 -m http.server --bind 10.0.77.1 --directory "$(dirname "$file")" 8000 \
	>/tmp/http.log 2>&1 &
for ((i = 0; i < 100; i++)); do
	ip netns exec $ns python3 -c 'import socket; socket.create_connection(("10.0.77.1", 8000), 1)' \
		2>/dev/null && break
	sleep 0.1
done
ip netns exec $ns "$amalgam" "$@" --net tap=$tap,node=$node
st=$?
echo "---- http.server ----"
cat /tmp/http.log
exit $st
