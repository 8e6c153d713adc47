#!/usr/bin/env bash
# Node identity (net/ident.h) across processes: 'amalgam key --node', a
# cluster that checks every node's key, a node whose key is not trusted
# refused in one line, a trusted node in another node's place refused, a
# coordinator not node 0 in its own trust file, --trust on one side only,
# and a joiner told an id its trust file gives another key refused.
# Usage: identity.sh AMALGAM EXIT_GUEST
set -uo pipefail
. "$(dirname "$0")/lib.sh" "$1"
EXITG=$2

"$AMALGAM" key "$TMP/c.key" || { fail "amalgam key"; exit 1; }
for k in 0 1 2 x; do
	"$AMALGAM" key --node "$TMP/n$k.key" >"$TMP/n$k.pub" || { fail "key --node $k"; exit 1; }
done
grep -qxE '[0-9a-f]{64}' "$TMP/n0.pub" && [ "$(stat -c %a "$TMP/n0.key")" = 600 ] &&
	ok "key --node: secret key mode 600, public key printed" ||
	fail "key --node: $(cat "$TMP/n0.pub"), mode $(stat -c %a "$TMP/n0.key")"
"$AMALGAM" key --node "$TMP/n0.key" >/dev/null 2>"$TMP/e" && fail "key --node overwrote a file"
grep -q "already exists" "$TMP/e" && ok "key --node refuses to overwrite"
printf '0 %s\n1 %s\n2 %s\n' "$(cat "$TMP/n0.pub")" "$(cat "$TMP/n1.pub")" \
	"$(cat "$TMP/n2.pub")" >"$TMP/trust"
printf '1 %s\n' "$(cat "$TMP/n1.pub")" >"$TMP/trust-no0"

# A bad trust file, a node key without --trust: one line, status 2.
printf '0 nothex\n' >"$TMP/bad.trust"
"$AMALGAM" node --listen 127.0.0.1:0 --key "$TMP/c.key" --node-key "$TMP/n1.key" \
	--trust "$TMP/bad.trust" 2>"$TMP/e"
[ $? -eq 2 ] && [ "$(wc -l <"$TMP/e")" -eq 1 ] && grep -q "line 1" "$TMP/e" &&
	ok "bad trust file: $(cat "$TMP/e")" || fail "bad trust file: $(cat "$TMP/e")"
"$AMALGAM" node --listen 127.0.0.1:0 --key "$TMP/c.key" --node-key "$TMP/n1.key" 2>"$TMP/e"
[ $? -eq 2 ] && grep -q "go together" "$TMP/e" && ok "--node-key alone: $(cat "$TMP/e")" ||
	fail "--node-key alone: $(cat "$TMP/e")"

# joiner N KEYNAME [TRUST]: an 'amalgam node' with node key nKEYNAME.key on a
# fresh port: sets pN and nN, stderr in $TMP/nN.err.
joiner() {
	local p; p=$(port)
	"$AMALGAM" node -v --listen 127.0.0.1:$p --key "$TMP/c.key" --node-key "$TMP/n$2.key" \
		--trust "${3:-$TMP/trust}" --timeout 30 >/dev/null 2>"$TMP/n$1.err" &
	eval "p$1=$p n$1=$!"
}

# coordinate TRUST: node 0 (node key n0) joins node 1 at p1 with TRUST:
# sets st, stderr in $TMP/w.err.
coordinate() {
	timeout 30 "$AMALGAM" run --join 127.0.0.1:$p1 --key "$TMP/c.key" \
		--node-key "$TMP/n0.key" --trust "$1" --kernel "$EXITG" >/dev/null 2>"$TMP/w.err"
	st=$?
}

# 1. Three nodes, each holding its own trusted key: the guest runs, and
#    every link says the peer's node key was checked.
joiner 1 1; joiner 2 2
sleep 0.3
timeout 60 "$AMALGAM" run -v --join 127.0.0.1:$p1,127.0.0.1:$p2 --key "$TMP/c.key" \
	--node-key "$TMP/n0.key" --trust "$TMP/trust" --cpus 3 --place 2,0,1 \
	--kernel "$EXITG" >/dev/null 2>"$TMP/r.err"
st=$?
wait $n1; s1=$?
wait $n2; s2=$?
checked=$(grep -c "node key checked" "$TMP/r.err" "$TMP/n1.err" "$TMP/n2.err" |
	awk -F: '{ s += $2 } END { print s }')
if [ $st -eq 7 ] && [ $s1 -eq 7 ] && [ $s2 -eq 7 ] && [ "$checked" -ge 6 ]; then
	ok "3 nodes with trusted node keys ran the guest (status 7), $checked links checked"
else
	fail "trusted cluster: status $st/$s1/$s2, $checked checked links"; tail -3 "$TMP/r.err"
fi

# 2. A node holding the cluster key but a node key nobody trusts: refused,
#    the coordinator's last line says why, the node gets nothing.
joiner 1 x
sleep 0.3
coordinate "$TMP/trust"
if [ $st -ne 0 ] && tail -1 "$TMP/w.err" | grep -q "node key is not the one our --trust file lists" &&
   grep -q "not in this node's trust list" "$TMP/w.err"; then
	ok "untrusted node key refused (status $st): $(tail -1 "$TMP/w.err")"
else
	fail "untrusted node key: status $st"; cat "$TMP/w.err"
fi
grep -q "JOIN\|joined" "$TMP/n1.err" && fail "the untrusted node was told the cluster's parameters"
kill $n1 2>/dev/null; wait $n1 2>/dev/null

# 3. A trusted node (node 2's key) in node 1's place: refused, naming it.
joiner 1 2
sleep 0.3
coordinate "$TMP/trust"
if [ $st -ne 0 ] && grep -q "trusted for another node id" "$TMP/w.err"; then
	ok "node 2's key claiming node 1 refused (status $st)"
else
	fail "another node's id: status $st"; cat "$TMP/w.err"
fi
kill $n1 2>/dev/null; wait $n1 2>/dev/null

# 4. A coordinator whose trust file does not list it as node 0: refused
#    before it dials anyone.
joiner 1 1
sleep 0.3
coordinate "$TMP/trust-no0"
[ $st -eq 2 ] && grep -q "node 0 is this node" "$TMP/w.err" &&
	ok "coordinator not node 0 in its trust file: $(tail -1 "$TMP/w.err")" ||
	{ fail "coordinator's own key: status $st"; cat "$TMP/w.err"; }
kill $n1 2>/dev/null; wait $n1 2>/dev/null

# 5. --trust on one side only: refused, saying so.
p1=$(port)
"$AMALGAM" node --listen 127.0.0.1:$p1 --key "$TMP/c.key" --timeout 30 2>/dev/null &
n1=$!
sleep 0.3
coordinate "$TMP/trust"
[ $st -ne 0 ] && tail -1 "$TMP/w.err" | grep -q -- "--trust, the other not" &&
	ok "--trust on one side refused: $(tail -1 "$TMP/w.err")" ||
	{ fail "--trust on one side: status $st"; cat "$TMP/w.err"; }
kill $n1 2>/dev/null; wait $n1 2>/dev/null

# 6. A joiner whose own trust file gives its id another key: the
#    coordinator accepts it (its list says node 1 is this key), but the
#    joiner refuses the id JOIN gives it, and says why.
printf '0 %s\n1 %s\n2 %s\n' "$(cat "$TMP/n0.pub")" "$(cat "$TMP/n2.pub")" \
	"$(cat "$TMP/n1.pub")" >"$TMP/trust-swapped"
joiner 1 1 "$TMP/trust-swapped"
sleep 0.3
coordinate "$TMP/trust"
wait $n1; s1=$?
if [ $st -ne 0 ] && [ $s1 -ne 0 ] &&
   grep -q "makes this node node 1, but the --trust file lists another key" "$TMP/n1.err"; then
	ok "joiner refused an id its trust file gives another key (status $st/$s1)"
else
	fail "joiner's own entry: status $st/$s1"; tail -2 "$TMP/n1.err" "$TMP/w.err"
fi

echo "identity: $fails failure(s)"
[ $fails -eq 0 ]
