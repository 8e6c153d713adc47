#!/usr/bin/env bash
# The cross-host path on loopback: 'amalgam node --listen' processes joined
# by 'amalgam run --join', a wrong key refused, garbage on a node's port
# survived. Usage: join.sh AMALGAM EXIT_GUEST
set -uo pipefail
. "$(dirname "$0")/lib.sh" "$1"
EXITG=$2

"$AMALGAM" key "$TMP/k1" && "$AMALGAM" key "$TMP/k2" || { fail "amalgam key"; exit 1; }
"$AMALGAM" key "$TMP/k1" 2>"$TMP/e" && fail "key overwrote an existing file"
grep -q "already exists" "$TMP/e" && ok "key refuses to overwrite"
printf 'short' >"$TMP/bad.key"
"$AMALGAM" node --listen 127.0.0.1:0 --key "$TMP/bad.key" 2>"$TMP/e"
[ $? -eq 2 ] && ok "bad key file refused: $(tail -1 "$TMP/e")" || fail "bad key file accepted"


# 1. Two joiners and a coordinator; one joiner first gets garbage and a
#    peer with the wrong key.
p1=$(port); p2=$(port)
"$AMALGAM" node --listen 127.0.0.1:$p1 --key "$TMP/k1" --timeout 60 >"$TMP/n1.out" 2>"$TMP/n1.err" &
n1=$!
"$AMALGAM" node --listen 127.0.0.1:$p2 --key "$TMP/k1" --timeout 60 --memory 48M \
	>"$TMP/n2.out" 2>"$TMP/n2.err" &
n2=$!
sleep 0.5
exec 3<>/dev/tcp/127.0.0.1/$p1 && { printf 'GET / HTTP/1.0\r\n\r\n' >&3; exec 3>&-; }
head -c 300 /dev/urandom >/dev/tcp/127.0.0.1/$p1 2>/dev/null
timeout 30 "$AMALGAM" run --join 127.0.0.1:$p1 --key "$TMP/k2" --kernel "$EXITG" \
	>"$TMP/w.out" 2>"$TMP/w.err"
st=$?
if [ $st -ne 0 ] && grep -qi "key" "$TMP/w.err"; then
	ok "wrong key refused (status $st): $(grep -i -m1 key "$TMP/w.err")"
else
	fail "wrong key: status $st"; cat "$TMP/w.err"
fi
kill -0 $n1 2>/dev/null && ok "node survived garbage and a wrong key" || fail "node 1 died"
timeout 60 "$AMALGAM" run --join 127.0.0.1:$p1,127.0.0.1:$p2 --key "$TMP/k1" \
	--cpus 3 --place 2,0,1 --memory 64M --kernel "$EXITG" >"$TMP/r.out" 2>"$TMP/r.err"
st=$?
# Node 2 said it contributes 48M: the rest of the 64M is split over 0 and 1.
grep -q "guest RAM 64M: node 0 8M node 1 8M node 2 48M" "$TMP/r.err" &&
	ok "node 2's own --memory 48M is its home range" ||
	{ fail "contributions: $(grep 'guest RAM' "$TMP/r.err")"; }
# The exit guest runs on vCPU 0, placed on node 2: its port write travels
# to node 0's exit device, and status 7 comes back out of 'run'.
[ $st -eq 7 ] && ok "3-node join ran the guest on node 2, status 7" ||
	{ fail "join run: status $st"; tail -5 "$TMP/r.err"; }
wait $n1; s1=$?
wait $n2; s2=$?
[ $s1 -eq 7 ] && [ $s2 -eq 7 ] && ok "joined nodes exited with the guest's status" ||
	fail "joined nodes exited $s1 $s2"

# 2. --insecure-network on one side only is refused, saying so, at once;
#    on both it runs, and each node says at start that its links are in
#    clear.
p1=$(port)
"$AMALGAM" node --listen 127.0.0.1:$p1 --key "$TMP/k1" --timeout 30 >"$TMP/n1.out" 2>"$TMP/n1.err" &
n1=$!
sleep 0.3
timeout 30 "$AMALGAM" run --join 127.0.0.1:$p1 --key "$TMP/k1" --insecure-network \
	--kernel "$EXITG" >"$TMP/w.out" 2>"$TMP/w.err"
st=$?
if [ $st -ne 0 ] && grep -q "insecure-network or --trust, the other not" "$TMP/w.err"; then
	ok "mixed --insecure-network refused: $(grep -m1 'the other not' "$TMP/w.err")"
else
	fail "mixed --insecure-network: status $st"; tail -3 "$TMP/w.err"
fi
kill $n1 2>/dev/null; wait $n1 2>/dev/null
p1=$(port)
"$AMALGAM" node --listen 127.0.0.1:$p1 --key "$TMP/k1" --insecure-network --timeout 30 \
	>"$TMP/n1.out" 2>"$TMP/n1.err" &
n1=$!
sleep 0.3
timeout 30 "$AMALGAM" run --join 127.0.0.1:$p1 --key "$TMP/k1" --insecure-network \
	--cpus 2 --place 1,0 --kernel "$EXITG" >"$TMP/r.out" 2>"$TMP/r.err"
st=$?
wait $n1; s1=$?
if [ $st -eq 7 ] && [ $s1 -eq 7 ] && grep -q "NOT encrypted" "$TMP/r.err" &&
   grep -q "NOT encrypted" "$TMP/n1.err"; then
	ok "--insecure-network on both: status 7, both nodes warned"
else
	fail "--insecure-network on both: status $st/$s1"; tail -3 "$TMP/r.err" "$TMP/n1.err"
fi

# 3. A stranger floods a joiner's port as in issue 16 (32 idle sockets, all
#    reopened just before the 1 s handshake deadline would drop them): the
#    cluster still forms and runs, and the joiner's log stays short.
start_joiners "$TMP/k1" 60
python3 - "$p1" <<'PY' &
import socket, sys, time
socks = []
end = time.time() + 20
while time.time() < end:
    for s in socks:
        s.close()
    socks = []
    for i in range(32):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", int(sys.argv[1])))
        except OSError:
            pass
        socks.append(s)
    time.sleep(0.9)
PY
flood=$!
sleep 0.3
t0=$(now_ms)
timeout 30 "$AMALGAM" run --join 127.0.0.1:$p1,127.0.0.1:$p2 --key "$TMP/k1" \
	--cpus 3 --place 2,0,1 --kernel "$EXITG" >"$TMP/r.out" 2>"$TMP/r.err"
st=$?
dt=$(( $(now_ms) - t0 ))
wait $n1 $n2
kill $flood 2>/dev/null; wait $flood 2>/dev/null
lines=$(grep -c "net: 127.0.0.1" "$TMP/n1.err")
if [ $st -eq 7 ] && [ "$lines" -le 10 ]; then
	ok "cluster formed and ran under a flood in $dt ms; joiner logged $lines line(s) about it"
else
	fail "under a flood: status $st, $lines lines on the joiner"; tail -3 "$TMP/r.err" "$TMP/n1.err"
fi

# 4. A joiner's contribution that the coordinator's --node-memory
#    contradicts: one line, status 2.
p3=$(port)
"$AMALGAM" node --listen 127.0.0.1:$p3 --key "$TMP/k1" --timeout 5 --memory 32M 2>/dev/null &
n3=$!
sleep 0.3
timeout 30 "$AMALGAM" run --join 127.0.0.1:$p3 --key "$TMP/k1" --node-memory 16M,16M \
	--kernel "$EXITG" >"$TMP/m.out" 2>"$TMP/m.err"
st=$?
if [ $st -eq 2 ] && [ "$(wc -l <"$TMP/m.err")" -eq 1 ] &&
	grep -q "contributes 32M (its --memory) but --node-memory gives it 16M" "$TMP/m.err"; then
	ok "contradicting contributions refused: $(cat "$TMP/m.err")"
else
	fail "contradicting contributions: status $st"; cat "$TMP/m.err"
fi
wait $n3

# 5. A node nobody joins gives up when told to.
"$AMALGAM" node --listen 127.0.0.1:$(port) --key "$TMP/k1" --timeout 1 2>"$TMP/e"
[ $? -ne 0 ] && grep -q "no coordinator" "$TMP/e" && ok "lonely node times out" ||
	fail "lonely node: $(cat "$TMP/e")"
echo "join: $fails failure(s)"
[ $fails -eq 0 ]
