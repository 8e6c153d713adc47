#!/bin/sh
# Run a fuzzer for a bounded time.
#   run-fuzz.sh FUZZER CORPUS_GEN [SECONDS [WORKDIR]]
# FUZZER is a libFuzzer binary (fuzz/fuzz_*.c), CORPUS_GEN the program
# that writes its seeds (fuzz_wire_corpus DIR TARGET, or fuzz_api_corpus
# DIR), or - for none. SECONDS defaults to 20.
# WORKDIR (default: FUZZER's directory/FUZZER.d)
# keeps the growing corpus between runs; a crash input lands in
# WORKDIR/artifacts/ and the exit status is non-zero.
set -eu
fuzzer=$1
gen=$2
secs=${3:-20}
work=${4:-$(dirname "$fuzzer")/$(basename "$fuzzer").d}

mkdir -p "$work/corpus" "$work/artifacts" "$work/seeds"
[ "$gen" = - ] || "$gen" "$work/seeds" "$(basename "$fuzzer")"
# libFuzzer's own exit status for a crash is 77, which meson reads as
# "skipped": make every finding a failure.
exec "$fuzzer" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
	-error_exitcode=1 -timeout_exitcode=1 \
	-max_len=70000 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$work/corpus" "$work/seeds"
