# Shared by the Linux lab tests (sourced): run amalgam inside one lab and
# report a failure with the output's tail.

# lab_amalgam LOG TIMEOUT AMALGAM ARGS...: `AMALGAM ARGS...` inside the lab
# (scripts/lab), killed after TIMEOUT seconds, its output and a last line
# amalgam-exit=STATUS in LOG. Returns the lab's status.
lab_amalgam() {
	local log=$1 tmo=$2
	shift 2
	scripts/lab ${LAB_SMP:+--smp "$LAB_SMP"} -t $((tmo + 300)) -- \
		sh -c 't=$1; shift; timeout "$t" "$@"; echo "amalgam-exit=$?"' sh "$tmo" \
		"$@" >"$log" 2>&1
}

# fail MESSAGE: print it and the last lines of $log, exit 1.
fail() {
	echo "FAIL: $*"
	echo "---- last lines of the guest and amalgam output ----"
	tail -"${FAIL_TAIL:-60}" "$log"
	exit 1
}
