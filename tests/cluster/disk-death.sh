#!/usr/bin/env bash
# The node holding a disk dies while the guest writes to it: the guest's
# vCPU runs on node 1 (an 'amalgam node' process, as on another host), the
# disk on node 0 (the 'run' process, which hosts the devices); node 0 is
# killed mid-write and node 1 must stop within 5 s naming it, never hang
# waiting for a reply. (Nodes that 'run --nodes' spawns die with their
# parent by design, so this uses --join.)
# Usage: disk-death.sh AMALGAM VIRTIO_BLK_ELF
set -uo pipefail
. "$(dirname "$0")/lib.sh" "$1"
GUEST=$2

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$AMALGAM" key "$TMP/k" || { fail "amalgam key"; exit 1; }
truncate -s 4M "$TMP/disk.img"
"$AMALGAM" node --listen 127.0.0.1:$port --key "$TMP/k" --timeout 60 \
	>"$TMP/n1.out" 2>"$TMP/n1.err" &
n1=$!
sleep 0.5
"$AMALGAM" run --join 127.0.0.1:$port --key "$TMP/k" --cpus 1 --place 1 --migrate off \
	--memory 64M --kernel "$GUEST" --append "sectors=8192 writeloop" \
	--disk "$TMP/disk.img" >"$TMP/out" 2>"$TMP/err" &
run=$!
if ! wait_for "$TMP/out" 'virtio-blk: writing' 60; then
	fail "the guest never got to write"
	tail -5 "$TMP/out" "$TMP/err" "$TMP/n1.err" | sed 's/^/    /'
	kill -9 $run $n1
	exit 1
fi
sleep 0.5
t0=$(now_ms)
kill -9 $run
for ((i = 0; i < 100; i++)); do kill -0 $n1 2>/dev/null || break; sleep 0.1; done
dt=$(( $(now_ms) - t0 ))
if kill -0 $n1 2>/dev/null; then
	fail "node 1 still running 10 s after node 0 (the disk's) died"
	kill -9 $n1
else
	wait $n1
	st=$?
	if [ $st -eq 0 ]; then
		fail "node 1 exited 0 after losing node 0"
	elif ! grep -q "lost node 0" "$TMP/n1.err"; then
		fail "no message naming node 0:"; sed 's/^/    /' "$TMP/n1.err" | tail -5
	elif [ $dt -gt 5000 ]; then
		fail "node 1 stopped after $dt ms (> 5 s)"
	else
		ok "node 0 (the disk's) killed mid-write: node 1 stopped in $dt ms, status $st: $(grep -m1 "lost node 0" "$TMP/n1.err")"
	fi
fi
echo "disk-death: $fails failure(s)"
[ $fails -eq 0 ]
