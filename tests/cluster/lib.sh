# Shared by the cluster tests: build the spin guest, wait for output.
# Usage: . lib.sh AMALGAM
AMALGAM=$1
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gcc -c "$here/spin.S" -o "$TMP/spin.o" &&
	ld -Ttext=0x200000 -Tdata=0x300000 -e _start -o "$TMP/spin.elf" "$TMP/spin.o" ||
	{ echo "FAIL: cannot build the spin guest"; exit 1; }
SPIN=$TMP/spin.elf
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# wait_for FILE REGEX SECONDS
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# A free-ish loopback port from the kernel.
port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_joiners KEY TIMEOUT [NODE OPTIONS...]: two 'amalgam node'
# processes on fresh ports: sets p1, p2 (ports), n1, n2 (pids), stderr
# in $TMP/n1.err and $TMP/n2.err.
start_joiners() {
	local key=$1 tmo=$2
	shift 2
	p1=$(port); p2=$(port)
	"$AMALGAM" node --listen 127.0.0.1:$p1 --key "$key" --timeout "$tmo" "$@" \
		>/dev/null 2>"$TMP/n1.err" &
	n1=$!
	"$AMALGAM" node --listen 127.0.0.1:$p2 --key "$key" --timeout "$tmo" "$@" \
		>/dev/null 2>"$TMP/n2.err" &
	n2=$!
	sleep 0.3
}
