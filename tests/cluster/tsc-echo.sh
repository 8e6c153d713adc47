#!/usr/bin/env bash
# The TSC echo (cluster/rtt.h) while a stranger keeps a connection to it
# open: the stranger never gets more than the 32-byte challenge, and the
# cluster still forms, node 0 comparing TSCs by round trips.
# Usage: tsc-echo.sh AMALGAM EXIT_GUEST
set -uo pipefail
. "$(dirname "$0")/lib.sh" "$1"
EXITG=$2

"$AMALGAM" key "$TMP/k" || { fail "amalgam key"; exit 1; }
p1=$(port)
"$AMALGAM" node -v --listen 127.0.0.1:$p1 --key "$TMP/k" --timeout 60 >/dev/null \
	2>"$TMP/n1.err" &
n1=$!
wait_for "$TMP/n1.err" "TSC echo on .* port [0-9]+" 10 || { fail "no TSC echo port logged"; exit 1; }
eport=$(grep -oE "TSC echo on .* port [0-9]+" "$TMP/n1.err" | grep -oE "[0-9]+$")

# The stranger: always one connection open (the server drops a silent one
# after 1 s), every other one sending the old protocol's probes; it records
# the most bytes any connection gave it, and how many connections it made.
python3 - "$eport" "$TMP/prober" <<'PY' &
import os, socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
most, conns, end = 0, 0, time.time() + 25
while time.time() < end:
    s = socket.socket()
    s.settimeout(3)
    got = 0
    try:
        s.connect(("127.0.0.1", port))
        conns += 1
        if conns % 2:
            s.sendall(b"T" + bytes(63))
        while True:
            b = s.recv(8192)
            if not b:
                break
            got += len(b)
    except OSError:
        pass
    most = max(most, got)
    s.close()
    with open(out + ".new", "w") as f:
        f.write("%d %d\n" % (most, conns))
    os.replace(out + ".new", out)
PY
prober=$!
sleep 1.5
timeout 40 "$AMALGAM" run -v --join 127.0.0.1:$p1 --key "$TMP/k" --cpus 2 --place 1,0 \
	--kernel "$EXITG" >/dev/null 2>"$TMP/r.err"
st=$?
wait $n1
sleep 1
kill $prober 2>/dev/null; wait $prober 2>/dev/null
read -r most conns <"$TMP/prober" || { most=-1; conns=0; }
if [ $st -eq 7 ] && grep -q "node 1: host TSC .* ticks from ours" "$TMP/r.err"; then
	ok "cluster formed with a stranger on the TSC echo; TSCs compared by round trips"
else
	fail "with a stranger on the TSC echo: status $st"; grep -i "tsc\|error" "$TMP/r.err" | tail -3
fi
if [ "$most" -eq 32 ] && [ "$conns" -ge 2 ]; then
	ok "the stranger got at most $most bytes (the challenge) over $conns connections"
else
	fail "the stranger got $most bytes over $conns connections"
fi
echo "tsc-echo: $fails failure(s)"
[ $fails -eq 0 ]
