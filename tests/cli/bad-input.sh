#!/usr/bin/env bash
# Every bad input gets exactly one clear line on stderr and exit status 2,
# never a crash or a hang. Usage: bad-input.sh AMALGAM GUEST_ELF [MULTIBOOT_ELF]
set -uo pipefail
AMALGAM=$1
GOOD=${2:-}
MB=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# expect NAME PATTERN -- ARGS...: status 2, one stderr line matching PATTERN.
expect() {
	local name=$1 pattern=$2
	shift 3
	timeout 20 "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$? lines
	lines=$(wc -l <"$tmp/err")
	if [[ $rc -ne 2 || $lines -ne 1 ]] || ! grep -qiE -- "$pattern" "$tmp/err"; then
		echo "FAIL $name: status $rc, $lines stderr lines:"
		sed 's/^/    /' "$tmp/err"
		fails=$((fails + 1))
	else
		echo "ok   $name: $(cat "$tmp/err")"
	fi
}

printf 'not a kernel at all' >"$tmp/junk"
head -c 100000 /dev/urandom >"$tmp/random"

expect "no command"        "usage|command"        -- "$AMALGAM"
expect "unknown command"   "unknown command"      -- "$AMALGAM" frobnicate
expect "unknown flag"      "unknown option"       -- "$AMALGAM" run --kernel x --frob
expect "missing value"     "needs a value"        -- "$AMALGAM" run --kernel
expect "no kernel"         "no kernel"            -- "$AMALGAM" run --cpus 1
expect "missing kernel"    "cannot read kernel"   -- "$AMALGAM" run --kernel "$tmp/none"
expect "kernel is a dir"   "not a regular file"   -- "$AMALGAM" run --kernel "$tmp"
expect "not a bzImage"     "not a Linux bzImage"  -- "$AMALGAM" run --kernel "$tmp/junk"
expect "random kernel"     "not a Linux bzImage"  -- "$AMALGAM" run --kernel "$tmp/random"
expect "cpus 0"            "--cpus"               -- "$AMALGAM" run --cpus 0 --kernel "$tmp/junk"
expect "cpus too many"     "--cpus"               -- "$AMALGAM" run --cpus 65 --kernel "$tmp/junk"
expect "cpus not a number" "--cpus"               -- "$AMALGAM" run --cpus two --kernel "$tmp/junk"
expect "bad size"          "--memory"             -- "$AMALGAM" run --memory 12X --kernel "$tmp/junk"
expect "size too small"    "--memory"             -- "$AMALGAM" run --memory 1M --kernel "$tmp/junk"
expect "size too big"      "--memory"             -- "$AMALGAM" run --memory 9T --kernel "$tmp/junk"
expect "missing initrd"    "cannot read initrd"   -- "$AMALGAM" run --kernel "$tmp/junk" --initrd "$tmp/none"
# Several nodes: the flags of 'run', 'node' and 'key'.
expect "nodes 0"           "--nodes"              -- "$AMALGAM" run --nodes 0 --kernel "$tmp/junk"
expect "nodes and join"    "cannot be combined"   -- "$AMALGAM" run --nodes 2 --join a:1 --kernel "$tmp/junk"
expect "join without key"  "needs --key"          -- "$AMALGAM" run --join a:1 --kernel "$tmp/junk"
expect "place too short"   "--place lists"        -- "$AMALGAM" run --nodes 2 --cpus 3 --place 0,1 --kernel "$tmp/junk"
expect "place bad node"    "placed on node 5"     -- "$AMALGAM" run --nodes 2 --cpus 2 --place 0,5 --kernel "$tmp/junk"
expect "bad start mode"    "--start"              -- "$AMALGAM" run --start some --kernel "$tmp/junk"
expect "bad migrate mode"  "--migrate must be"    -- "$AMALGAM" run --migrate sometimes --kernel "$tmp/junk"
expect "node-cpus 0"       "--node-cpus must be"  -- "$AMALGAM" run --node-cpus 0 --kernel "$tmp/junk"
expect "node-cpus word"    "--node-cpus must be"  -- "$AMALGAM" run --node-cpus many --kernel "$tmp/junk"
expect "node node-cpus"    "--node-cpus must be"  -- "$AMALGAM" node --node-cpus 99999 --listen 127.0.0.1:0 --key "$tmp/k"
expect "linux-tuning"      "--linux-tuning must be" -- "$AMALGAM" run --linux-tuning maybe --kernel "$tmp/junk"
expect "stats-every small" "--stats-every must be" -- "$AMALGAM" run --stats-every 5 --kernel "$tmp/junk"
expect "node stats-every"  "--stats-every must be" -- "$AMALGAM" node --stats-every x --listen 127.0.0.1:0 --key "$tmp/k"
expect "node-memory count" "--node-memory lists 2" -- "$AMALGAM" run --nodes 3 --node-memory 32M,32M --kernel "$tmp/junk"
expect "node-memory word"  "--node-memory takes"  -- "$AMALGAM" run --nodes 2 --node-memory 32M,lots --kernel "$tmp/junk"
expect "node-memory page"  "--node-memory takes"  -- "$AMALGAM" run --nodes 2 --node-memory 32M,1000 --kernel "$tmp/junk"
expect "node-memory sum"   "--memory is 1G but the nodes contribute 64M" -- "$AMALGAM" run --nodes 2 --memory 1G --node-memory 32M,32M --kernel "$tmp/junk"
expect "node-memory small" "would be 8M"          -- "$AMALGAM" run --nodes 2 --node-memory 8M,0 --kernel "$tmp/junk"
expect "node bad memory"   "--memory must be"     -- "$AMALGAM" node --memory 12X --listen 127.0.0.1:0 --key "$tmp/k"
expect "cache word"        "--cache must be"      -- "$AMALGAM" run --nodes 2 --cache lots --kernel "$tmp/junk"
expect "read-ahead big"    "--read-ahead takes a number of pages from 0" -- "$AMALGAM" run --nodes 2 --read-ahead 257 --kernel "$tmp/junk"
expect "read-ahead word"   "--read-ahead takes"   -- "$AMALGAM" node --read-ahead some
expect "cache small"       "--cache must be a size from 1M" -- "$AMALGAM" run --nodes 2 --cache 512K --kernel "$tmp/junk"
expect "cache page"        "--cache must be"      -- "$AMALGAM" run --nodes 2 --cache 1000001 --kernel "$tmp/junk"
expect "node cache"        "--cache must be"      -- "$AMALGAM" node --cache 0 --listen 127.0.0.1:0 --key "$tmp/k"
expect "bad join address"  "bad --join address"   -- "$AMALGAM" run --join 127.0.0.1:99999 --key "$tmp/k" --kernel "$tmp/junk"
expect "bad peer timeout"  "--peer-timeout must be" -- "$AMALGAM" run --nodes 2 --peer-timeout 50 --kernel "$tmp/junk"
expect "node without key"  "needs --listen"       -- "$AMALGAM" node --listen 127.0.0.1:0
expect "node missing key"  "cannot open"          -- "$AMALGAM" node --listen 127.0.0.1:0 --key "$tmp/none"
expect "key without file"  "usage"                -- "$AMALGAM" key
"$AMALGAM" key "$tmp/k" >/dev/null 2>&1
expect "node bad listen"   "bad listen address"   -- "$AMALGAM" node --listen nohost:xx --key "$tmp/k"
expect "key exists"        "already exists"       -- "$AMALGAM" key "$tmp/k"
expect "bad device"        "--device knows only"  -- "$AMALGAM" run --device pci-frob --kernel "$tmp/junk"
expect "bad debug-exit"    "iobase=N"             -- "$AMALGAM" run --device isa-debug-exit,iobase=0x10000 --kernel "$tmp/junk"
expect "debug-exit iosize" "iosize=1, 2 or 4"     -- "$AMALGAM" run --device isa-debug-exit,iosize=3 --kernel "$tmp/junk"
expect "disk no file"      "needs a file name"    -- "$AMALGAM" run --kernel "$tmp/junk" --disk ",readonly"
expect "disk bad option"   "unknown option 'frob'" -- "$AMALGAM" run --kernel "$tmp/junk" --disk "$tmp/junk,frob"
expect "disk no such node" "node=1 names no node" -- "$AMALGAM" run --kernel "$tmp/junk" --disk "$tmp/junk,node=1"
expect "disk past nodes"   "node=2 names no node .the nodes are 0 to 1" -- "$AMALGAM" run --nodes 2 --kernel "$tmp/junk" --disk "$tmp/junk,node=2"
expect "disk bad node"     "node=N takes"         -- "$AMALGAM" run --kernel "$tmp/junk" --disk "$tmp/junk,node=x"
expect "disk queues"       "queues=N takes"       -- "$AMALGAM" run --kernel "$tmp/junk" --disk "$tmp/junk,queues=99"
expect "disk fail-from"    "fail-from=SECTOR"     -- "$AMALGAM" run --kernel "$tmp/junk" --disk "$tmp/junk,fail-from=0"
expect "net no tap"        "needs tap=NAME"       -- "$AMALGAM" run --kernel "$tmp/junk" --net mac=52:54:00:00:00:01
expect "net long name"     "1 to 15 characters"   -- "$AMALGAM" run --kernel "$tmp/junk" --net tap=a-name-far-too-long
expect "net multicast mac" "unicast address"      -- "$AMALGAM" run --kernel "$tmp/junk" --net tap=x,mac=01:00:5e:00:00:01
expect "net bad mac"       "unicast address"      -- "$AMALGAM" run --kernel "$tmp/junk" --net tap=x,mac=52:54:00:zz:00:01
expect "net no such node"  "node=1 names no node" -- "$AMALGAM" run --kernel "$tmp/junk" --net tap=x,node=1
expect "net past nodes"    "node=2 names no node .the nodes are 0 to 1" -- "$AMALGAM" run --nodes 2 --kernel "$tmp/junk" --net tap=x,node=2
expect "net bad node"      "node=N takes"         -- "$AMALGAM" run --kernel "$tmp/junk" --net tap=x,node=x
expect "net bad option"    "unknown option 'frob'" -- "$AMALGAM" run --kernel "$tmp/junk" --net tap=x,frob
expect "net twice"         "given twice"          -- "$AMALGAM" run --kernel "$tmp/junk" --net tap=x --net tap=x
expect "console bad"       "takes 'stdout' or 'file=PATH'" -- "$AMALGAM" run --kernel "$tmp/junk" --console tty
expect "console twice"     "given twice"          -- "$AMALGAM" run --kernel "$tmp/junk" --console stdout --console stdout
disks=()
for i in $(seq 17); do disks+=(--disk "$tmp/junk"); done
expect "too many disks"    "too many --disk"      -- "$AMALGAM" run --kernel "$tmp/junk" "${disks[@]}"
many=()
for i in $(seq 17); do many+=(--initrd "$tmp/junk"); done
expect "too many modules"  "too many --initrd"    -- "$AMALGAM" run --kernel "$tmp/junk" "${many[@]}"

# Multiboot images made bad from the good one (mbtest.elf: an ELF32 with
# its multiboot header at file offset 0x1000, one PT_LOAD program header
# at offset 52, then a GNU_STACK one at 84).
# patch FILE OFFSET BYTES: overwrite bytes (printf escapes) at OFFSET.
patch() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
if [[ -n $MB ]]; then
	head -c 4200 "$MB" >"$tmp/mb-trunc"
	expect "mb truncated"      "truncated"            -- "$AMALGAM" run --kernel "$tmp/mb-trunc"
	cp "$MB" "$tmp/mb-magic"; patch "$tmp/mb-magic" $((0x1000)) '\x00'
	expect "mb wrong magic"    "needs a multiboot header" -- "$AMALGAM" run --kernel "$tmp/mb-magic"
	cp "$MB" "$tmp/mb-sum"; patch "$tmp/mb-sum" $((0x1008)) '\x00'
	expect "mb bad checksum"   "checksum is wrong"    -- "$AMALGAM" run --kernel "$tmp/mb-sum"
	cp "$MB" "$tmp/mb-overlap"
	dd if="$MB" of="$tmp/mb-overlap" bs=1 skip=52 seek=84 count=32 conv=notrunc status=none
	expect "mb overlapping"    "segments overlap"     -- "$AMALGAM" run --kernel "$tmp/mb-overlap"
	cp "$MB" "$tmp/mb-far"; patch "$tmp/mb-far" 64 '\x00\x00\x00\x10'
	expect "mb outside RAM"    "outside guest RAM"    -- "$AMALGAM" run --memory 64M --kernel "$tmp/mb-far"
	expect "mb module missing" "cannot read initrd"   -- "$AMALGAM" run --kernel "$MB" --initrd "$tmp/none,cmdline=x"
	expect "initrd no file"    "needs a file name"    -- "$AMALGAM" run --kernel "$MB" --initrd ",cmdline=x"
	cp "$MB" "$tmp/mb.elf"
	expect "start all mb"      "--start all needs"    -- "$AMALGAM" run --start all --kernel "$tmp/mb.elf"
fi
if [[ -n $GOOD ]]; then
	expect "elf64 two initrds" "takes one --initrd"   -- "$AMALGAM" run --kernel "$GOOD" --initrd "$tmp/junk" --initrd "$tmp/junk"
	# Disk images the node cannot use (the VM is built first: needs KVM).
	expect "disk missing"      "disk .*none: No such file" -- "$AMALGAM" run --kernel "$GOOD" --disk "$tmp/none"
	expect "disk is a dir"     "disk .*: Is a directory" -- "$AMALGAM" run --kernel "$GOOD" --disk "$tmp"
	: >"$tmp/empty.img"
	expect "disk empty"        "smaller than one sector" -- "$AMALGAM" run --kernel "$GOOD" --disk "$tmp/empty.img"
	truncate -s 1M "$tmp/busy.img"
	exec {busy}>>"$tmp/busy.img"
	flock "$busy"
	expect "disk in use"       "in use by another process" -- "$AMALGAM" run --kernel "$GOOD" --disk "$tmp/busy.img"
	exec {busy}>&-
	expect "console no dir"    "console file=.*No such file" -- "$AMALGAM" run --kernel "$GOOD" --console "file=$tmp/none/x"
	if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
		cp "$GOOD" "$tmp/guest.elf"; chmod 755 "$tmp"; chmod 644 "$tmp/guest.elf"
		expect "no permission" "permission.*/dev/kvm" -- \
			setpriv --reuid=nobody --regid=nogroup --clear-groups "$AMALGAM" run --kernel "$tmp/guest.elf"
	fi
	if command -v unshare >/dev/null && [[ $(id -u) -eq 0 ]]; then
		expect "no /dev/kvm" "/dev/kvm does not exist" -- \
			unshare -m sh -c 'mount -t tmpfs none /dev && exec "$0" run --kernel "$1"' "$AMALGAM" "$GOOD"
	fi
fi
echo "bad-input: $fails failure(s)"
[[ $fails -eq 0 ]]
