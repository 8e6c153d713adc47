#!/usr/bin/env bash
# Confinement (src/util/confine.h, the lists in src/node/policy.c): once a
# node runs, every thread of it has no_new_privs, no capabilities and a
# seccomp filter; a call outside a thread's filter is refused and stops
# the node with one line naming the thread and the call; --no-seccomp
# turns the filters off. The forbidden call comes from the test-only
# --confine-selftest KIND (a command-line option: nothing a guest or a
# peer sends reaches it). Usage: confine.sh AMALGAM EXIT_ELF
set -uo pipefail
. "$(dirname "$0")/lib.sh" "$1"
EXIT_ELF=$2
SIGSYS_STATUS=$((128 + 31))

# refused NAME KIND STATUS_WANTED -- ARGS...: the run ends with status
# 128 + SIGSYS and exactly one line naming a thread of KIND and the call.
refused() {
	local name=$1 kind=$2
	shift 3
	timeout 60 "$AMALGAM" "$@" >"$TMP/out" 2>"$TMP/err"
	local st=$? n
	n=$(grep -c "seccomp: thread $kind[ 0-9]*(tid [0-9]*) made system call personality (135), outside its filter: refused" "$TMP/err")
	if [ $st -ne $SIGSYS_STATUS ] || [ "$n" -ne 1 ]; then
		fail "$name: status $st (want $SIGSYS_STATUS), $n lines naming thread $kind:"
		sed 's/^/    /' "$TMP/err" | tail -5
	else
		ok "$name: status $st: $(grep -m1 'seccomp:' "$TMP/err")"
	fi
}

refused "a vCPU thread's forbidden call" "vcpu 0" -- \
	run --kernel "$EXIT_ELF" --confine-selftest vcpu
refused "the receive thread's forbidden call" "net-rx" -- \
	run --nodes 2 --cpus 2 --start all --memory 64M --kernel "$SPIN" --confine-selftest net-rx
refused "an API thread's forbidden call" "api" -- \
	run --kernel "$EXIT_ELF" --api-sock "$TMP/api0.sock" --confine-selftest api

# The same hook without the filters: the call is harmless, the guest
# runs to its own exit status (7), and nothing is reported.
timeout 60 "$AMALGAM" run --kernel "$EXIT_ELF" --confine-selftest vcpu --no-seccomp \
	>"$TMP/out" 2>"$TMP/err"
st=$?
if [ $st -ne 7 ] || grep -q 'seccomp: thread' "$TMP/err"; then
	fail "--no-seccomp: status $st (want the guest's 7):"; sed 's/^/    /' "$TMP/err" | tail -5
else
	ok "--no-seccomp: the same call goes through, the guest exits with its status 7"
fi

# Every thread of both nodes of a running VM (with the API and metrics
# threads) is confined; the API answers; the VM stops cleanly on SIGTERM
# with no call refused on the way down.
"$AMALGAM" run --nodes 2 --cpus 2 --start all --memory 64M --kernel "$SPIN" \
	--api-sock "$TMP/api.sock" --metrics-listen 127.0.0.1:0 >"$TMP/out" 2>"$TMP/err" &
run=$!
if wait_for "$TMP/out" 'spin: running' 30; then
	sleep 0.5
	"$AMALGAM" ctl --sock "$TMP/api.sock" vcpus >"$TMP/ctl" 2>&1 ||
		fail "ctl vcpus under the filters: $(tail -1 "$TMP/ctl")"
	for pid in $run $(pgrep -P $run); do
		names=() bad=0
		for t in /proc/$pid/task/*; do
			s=$(cat "$t/status" 2>/dev/null) || continue
			names+=("$(cat "$t/comm")")
			seccomp=$(awk '/^Seccomp:/ {print $2}' <<<"$s")
			nnp=$(awk '/^NoNewPrivs:/ {print $2}' <<<"$s")
			capeff=$(awk '/^CapEff:/ {print $2}' <<<"$s")
			capprm=$(awk '/^CapPrm:/ {print $2}' <<<"$s")
			if [ "$seccomp" != 2 ] || [ "$nnp" != 1 ] ||
				[ "$capeff" != 0000000000000000 ] || [ "$capprm" != 0000000000000000 ]; then
				fail "process $pid thread $(cat "$t/comm"): Seccomp $seccomp NoNewPrivs $nnp CapEff $capeff CapPrm $capprm"
				bad=1
			fi
		done
		[ $bad -eq 0 ] && ok "process $pid: ${#names[@]} threads, each with a filter, no_new_privs, no capabilities (${names[*]})"
	done
	# Each kind was there to be checked (libmicrohttpd and the memory
	# plane name their threads themselves).
	for want in vcpu0 net-rx pager mem-send io-serve device MHD-listen; do
		[[ " $(cat /proc/$run/task/*/comm | tr '\n' ' ') " == *" $want "* ]] ||
			fail "node 0 has no thread named $want"
	done
	kill -TERM $run
	for ((i = 0; i < 100; i++)); do kill -0 $run 2>/dev/null || break; sleep 0.1; done
	kill -0 $run 2>/dev/null && { fail "still running 10 s after SIGTERM"; kill -9 $run; }
	wait $run
	st=$?
	if grep -q 'seccomp:' "$TMP/err"; then
		fail "a call refused while running or stopping:"; grep 'seccomp:' "$TMP/err" | sed 's/^/    /'
	elif [ $st -ne 143 ]; then
		fail "SIGTERM: status $st (want 143)"; tail -3 "$TMP/err" | sed 's/^/    /'
	else
		ok "SIGTERM: stopped with status $st, nothing refused"
	fi
else
	fail "the guest did not start:"; tail -5 "$TMP/err" | sed 's/^/    /'; kill -9 $run; wait $run
fi

echo "$fails failed"
[ $fails -eq 0 ]
