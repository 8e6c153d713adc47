#!/usr/bin/env bash
# The node holding a disk dies while the guest writes to it: the others
# stop within 5 s naming it, never hang waiting for a reply. Twice:
#  1. the disk on node 0 (the 'run' process, which also has config space
#     and the legacy devices), the guest's vCPU on node 1; node 0 killed;
#  2. the disk on node 1 (--disk ...,node=1: an 'amalgam node' process, as
#     on another host, opens the image), the vCPU on node 0; node 1
#     killed mid-write, node 0 must stop naming it.
# (Nodes that 'run --nodes' spawns die with their parent by design, so
# this uses --join.)
# Usage: disk-death.sh AMALGAM VIRTIO_BLK_ELF
set -uo pipefail
. "$(dirname "$0")/lib.sh" "$1"
GUEST=$2

"$AMALGAM" key "$TMP/k" || { fail "amalgam key"; exit 1; }

# case DISK_NODE: the vCPU on the other node; kill the disk's node, watch
# the survivor.
one_case() {
	local dnode=$1 vnode=$((1 - $1)) port killed survivor serr t0 dt st
	port=$(port)
	rm -f "$TMP"/*.out "$TMP"/*.err
	truncate -s 4M "$TMP/disk$dnode.img"
	"$AMALGAM" node --listen 127.0.0.1:$port --key "$TMP/k" --timeout 60 \
		>"$TMP/n1.out" 2>"$TMP/n1.err" &
	n1=$!
	sleep 0.5
	"$AMALGAM" run --join 127.0.0.1:$port --key "$TMP/k" --cpus 1 --place $vnode \
		--migrate off --memory 64M --kernel "$GUEST" --append "sectors=8192 writeloop" \
		--disk "$TMP/disk$dnode.img,node=$dnode" >"$TMP/out" 2>"$TMP/err" &
	run=$!
	if ! wait_for "$TMP/out" 'virtio-blk: writing' 60; then
		fail "disk on node $dnode: the guest never got to write"
		tail -5 "$TMP/out" "$TMP/err" "$TMP/n1.err" | sed 's/^/    /'
		kill -9 $run $n1
		wait $run $n1 2>/dev/null
		return
	fi
	sleep 0.5
	if [ "$dnode" = 0 ]; then
		killed=$run survivor=$n1 serr=$TMP/n1.err
	else
		killed=$n1 survivor=$run serr=$TMP/err
	fi
	t0=$(now_ms)
	kill -9 $killed
	for ((i = 0; i < 100; i++)); do kill -0 $survivor 2>/dev/null || break; sleep 0.1; done
	dt=$(( $(now_ms) - t0 ))
	wait $killed 2>/dev/null
	if kill -0 $survivor 2>/dev/null; then
		fail "node $vnode still running 10 s after node $dnode (the disk's) died"
		kill -9 $survivor
		wait $survivor 2>/dev/null
		return
	fi
	wait $survivor
	st=$?
	if [ $st -eq 0 ]; then
		fail "node $vnode exited 0 after losing node $dnode"
	elif ! grep -q "lost node $dnode" "$serr"; then
		fail "no message naming node $dnode:"; sed 's/^/    /' "$serr" | tail -5
	elif [ $dt -gt 5000 ]; then
		fail "node $vnode stopped after $dt ms (> 5 s)"
	else
		ok "node $dnode (the disk's) killed mid-write: node $vnode stopped in $dt ms, status $st: $(grep -m1 "lost node $dnode" "$serr")"
	fi
}

one_case 0
one_case 1
echo "disk-death: $fails failure(s)"
[ $fails -eq 0 ]
