#!/usr/bin/env bash
# virtio-net through a host tap, in a network namespace of the test's own
# (root; skipped, status 77, where namespaces or /dev/net/tun are missing):
# the tap holds 10.0.77.1/24, a UDP echo server listens on port 7777, and
# the test guest (guests/virtio_net.c) runs inside the namespace:
#  1. ARP, ICMP echo, UDP with checksum offload, garbage chains; again
#     with the guest's vCPU on node 1 of two, with the card on node 1 and
#     the vCPU on node 0, and with the card on node 2 of three and the
#     vCPU on node 1;
#  2. the tap deleted under a running guest, with the card on node 0 and
#     on node 1: the device goes DEVICE_NEEDS_RESET with its link down,
#     the card's node says which tap failed and every node goes on until
#     the guest ends.
# (--net's refusals are in tests/cli/bad-input.sh.)
# Usage: net.sh AMALGAM VIRTIO_NET_ELF RUN_TEST
set -uo pipefail
AMALGAM=$1 GUEST=$2 RUN_TEST=$3
TMP=$(mktemp -d)
NS=amlg-net$$ TAP=amtap$$ MAC=52:54:00:aa:bb:01
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
cleanup() {
	kill $(jobs -p) 2>/dev/null
	ip netns del $NS 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "net: needs root for a network namespace and a tap: skipped"; exit 77; }
[ -c /dev/net/tun ] || modprobe tun 2>/dev/null
[ -c /dev/net/tun ] || { echo "net: no /dev/net/tun: skipped"; exit 77; }
if ! ip netns add $NS 2>"$TMP/e"; then
	echo "net: cannot make a network namespace ($(head -1 "$TMP/e")): skipped"
	exit 77
fi
in_ns() { ip netns exec $NS "$@"; }
make_tap() {
	in_ns ip tuntap add dev $TAP mode tap && in_ns ip addr add 10.0.77.1/24 dev $TAP &&
		in_ns ip link set $TAP up && in_ns ip link set lo up
}
make_tap || { fail "cannot make the tap $TAP in $NS"; exit 1; }

# The echo server: bounded, it ends by itself after 300 s.
in_ns python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.0.77.1", 7777))
s.settimeout(300)
print("echo: ready", flush=True)
try:
    while True:
        d, a = s.recvfrom(2048)
        s.sendto(d, a)
except socket.timeout:
    pass
' >"$TMP/echo.out" 2>&1 &
for ((i = 0; i < 50; i++)); do grep -q ready "$TMP/echo.out" && break; sleep 0.1; done
grep -q ready "$TMP/echo.out" || { fail "the echo server did not start"; cat "$TMP/echo.out"; exit 1; }

# The guest's rings test: rings NAME TIMEOUT WHAT VMM-ARGS [run-test args].
rings() {
	local name=$1 tmo=$2 what=$3 vmm=$4
	shift 4
	if in_ns "$RUN_TEST" "$AMALGAM" "$GUEST" --timeout "$tmo" --append "mac=$MAC" \
		--vmm-args="$vmm" "$@" >"$TMP/$name.out" 2>&1; then
		ok "$what: $(grep -c '^PASS' "$TMP/$name.out") checks passed"
		grep -m1 "^net0:" "$TMP/$name.out" | sed 's/^/    /'
	else
		fail "the rings test, $what:"; tail -40 "$TMP/$name.out" | sed 's/^/    /'
	fi
}

# 1. The rings, on one node.
rings rings 60 "frames both ways through tap $TAP" "--net tap=$TAP,mac=$MAC --stats" \
	--stderr-regex "net0: rx [1-9][0-9]* .* tx [1-9]"
# 1b. The guest's vCPU on node 1: its rings and frames cross the memory
# plane to node 0, which holds the card, and the interrupts come back
# through the CPU plane.
rings rings2 120 "the vCPU on node 1, the card on node 0" \
	"--nodes 2 --place 1 --migrate off --net tap=$TAP,mac=$MAC"
# 1c. The card on node 1, the vCPU on node 0: node 1 opens the tap and
# runs the queues; node 0 and every other node hold a shadow of the PCI
# function whose BAR accesses go to node 1; config space stays on node 0.
rings rings3 120 "the card on node 1, the vCPU on node 0" \
	"-v --nodes 2 --place 0 --migrate off --net tap=$TAP,mac=$MAC,node=1" \
	--stderr-regex "amalgam\[1\] info: net0: tap $TAP, .* hosted by node 1"
# 1d. Three nodes: config space on node 0, the vCPU on node 1, the card on
# node 2.
rings rings4 120 "the card on node 2, the vCPU on node 1" \
	"--nodes 3 --place 1 --migrate off --net tap=$TAP,mac=$MAC,node=2"

# 2. The tap goes away under the guest: with the card on node 0, then on
# node 1 (which names the tap; every node goes on).
tap_gone() { # NODES: the card on the last node
	local nodes=$1 where=$(($1 - 1)) args=""
	[ "$nodes" -gt 1 ] && args="--nodes $nodes --place 0 --migrate off"
	in_ns ip link show $TAP >/dev/null 2>&1 || make_tap || { fail "cannot remake the tap"; return; }
	in_ns "$AMALGAM" run $args --memory 64M --kernel "$GUEST" --append "mac=$MAC tapgone" \
		--net tap=$TAP,mac=$MAC,node=$where >"$TMP/gone.out" 2>"$TMP/gone.err" &
	local run=$! i st
	for ((i = 0; i < 600; i++)); do grep -q "virtio-net: up" "$TMP/gone.out" && break; sleep 0.1; done
	if ! grep -q "virtio-net: up" "$TMP/gone.out"; then
		fail "the guest never brought the card up ($nodes nodes)"
		tail -20 "$TMP/gone.out" "$TMP/gone.err" | sed 's/^/    /'
		kill -9 $run
		wait $run
		return
	fi
	in_ns ip link del $TAP
	for ((i = 0; i < 600; i++)); do kill -0 $run 2>/dev/null || break; sleep 0.1; done
	if kill -0 $run 2>/dev/null; then
		fail "amalgam still running 60 s after the tap went away"; kill -9 $run
	fi
	wait $run
	st=$?
	if [ $st -ne 0 ] || ! grep -q "^SUMMARY: .* 0 failures" "$TMP/gone.out"; then
		fail "after the tap went away ($nodes nodes): status $st"
		tail -20 "$TMP/gone.out" "$TMP/gone.err" | sed 's/^/    /'
	elif ! grep -q "net0: tap $TAP failed" "$TMP/gone.err"; then
		fail "no message naming the tap ($nodes nodes)"; sed 's/^/    /' "$TMP/gone.err"
	else
		ok "tap deleted under the card on node $where: $(grep -m1 "tap $TAP failed" "$TMP/gone.err"); the guest saw NEEDS_RESET and ended normally"
	fi
}
tap_gone 1
tap_gone 2
echo "net: $fails failure(s)"
[ $fails -eq 0 ]
