#!/bin/sh
# Run a fuzzer (the wire's, the API's) for a bounded time.
#   run-fuzz.sh FUZZER CORPUS_GEN [SECONDS [WORKDIR]]
# FUZZER and CORPUS_GEN are e.g. the fuzz_wire and fuzz_wire_corpus binaries.
# SECONDS defaults to 20. WORKDIR (default: FUZZER's directory/fuzz_wire.d)
# keeps the growing corpus between runs; a crash input lands in
# WORKDIR/artifacts/ and the exit status is non-zero.
set -eu
fuzzer=$1
gen=$2
secs=${3:-20}
work=${4:-$(dirname "$fuzzer")/fuzz_wire.d}

mkdir -p "$work/corpus" "$work/artifacts"
"$gen" "$work/seeds"
exec "$fuzzer" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
	-max_len=70000 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$work/corpus" "$work/seeds"
