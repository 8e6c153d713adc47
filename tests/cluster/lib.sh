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
