# Wall-clock timing of output lines: sourced (bash >= 5, for EPOCHREALTIME).
# Used by scripts/lab (lab start -> command start) and meant for the boot
# benchmark (VMM start -> the guest's "amalgam-guest: init" line).
#
#   ts_now                     microseconds since the epoch
#   ts_fmt USEC                USEC as seconds with 3 decimals ("12.345")
#   ts_stamp START_US          filter: stdin lines to stdout, each prefixed
#                              with the seconds since START_US, "\r" dropped
#   ts_find LOG REGEX          seconds of the first stamped line matching
#                              REGEX (extended) in LOG; fails if none
#   ts_run LOG CMD...          run CMD, its stdout and stderr stamped into
#                              LOG (relative to just before CMD starts);
#                              returns CMD's status
# Example (boot benchmark):
#   ts_run build/boot.log qemu-system-x86_64 ... -append 'console=ttyS0 ...'
#   ts_find build/boot.log '^amalgam-guest: init'     # -> e.g. 11.214

ts_now() {
	local t=$EPOCHREALTIME
	t=${t/[.,]/}
	printf '%s\n' "$((10#$t))"
}

ts_fmt() {
	local us=$1 sign=
	if [ "$us" -lt 0 ]; then sign=-; us=$((-us)); fi
	printf '%s%d.%03d\n' "$sign" $((us / 1000000)) $((us % 1000000 / 1000))
}

ts_stamp() {
	local start=$1 line now d
	while IFS= read -r line || [ -n "$line" ]; do
		now=${EPOCHREALTIME/[.,]/}
		d=$((10#$now - start))
		printf '%d.%03d %s\n' $((d / 1000000)) $((d % 1000000 / 1000)) "${line//$'\r'/}"
	done
}

ts_find() {
	local log=$1 re=$2
	awk -v re="$re" '{ t = $1; sub(/^[^ ]* /, ""); if ($0 ~ re) { print t; found = 1; exit } }
		END { exit !found }' "$log"
}

ts_run() {
	local log=$1 start rc flags=$-; shift
	start=$(ts_now)
	set +e
	"$@" 2>&1 | ts_stamp "$start" >"$log"
	rc=${PIPESTATUS[0]}
	case $flags in *e*) set -e ;; esac
	return "$rc"
}
