#!/usr/bin/env python3
"""bench/fault's parser: one report from the logs of several runs.

    fault_report.py PAGES STREAM MEMORY LOGDIR

LOGDIR holds, for run i = 1, 2, ...: run-i.out (the guest's serial output:
bench-fault.elf's RESULT lines), run-i.err (amalgam's stderr: node 0's rtt
line and its memory-plane block, from --measure-rtt and --stats), run-i.rc
(amalgam's exit status) and run-i.load (the host's 1-minute load average
before the run). Prints each run, the medians over the good runs, the
ratios to the raw TCP round trip, and last one JSON line. plain-i.* are
the same files for the same run with --insecure-network (links in clear):
the medians' ratios sealed / in clear are the cost of sealing.
"""
import json
import os
import re

# Where the runs happened: inside scripts/lab (AMALGAM_LAB=1) or on the host.
WHERE = "lab" if os.environ.get("AMALGAM_LAB") == "1" else "host"
import statistics
import sys

GOAL = 1.5  # fault p50 / raw TCP rtt p50 we aim for

RTT_RE = re.compile(r"amalgam\[0\] rtt: node 1: .* over (\d+) samples: "
                    r"p50 ([\d.]+) us, p99 ([\d.]+) us, min ([\d.]+) us")
PLANE_RE = re.compile(r"^memory plane, node (\d+):")
LAT_RE = re.compile(r"^\s+(read miss|write miss|upgrade)\s+(\d+) remote, "
                    r"p50\s+([\d.]+) us, p99\s+([\d.]+) us, max\s+([\d.]+) us")
HELD_RE = re.compile(r"held (\d+), queue max (\d+)")
RESULT_RE = re.compile(r"^RESULT fault (.*)$")
KINDS = {"read miss": "read", "write miss": "write", "upgrade": "upgrade"}
PHASES = ("read", "upgrade", "write", "stream", "local")


def parse_err(text):
    """Node 0's baseline and fault latencies, from amalgam's stderr."""
    out = {}
    m = RTT_RE.search(text)
    if m:
        out["rtt_samples"] = int(m.group(1))
        out["rtt_p50"], out["rtt_p99"], out["rtt_min"] = map(float, m.groups()[1:])
    node = None
    for line in text.splitlines():
        m = PLANE_RE.match(line)
        if m:
            node = int(m.group(1))
            continue
        if node != 0:
            continue
        m = HELD_RE.search(line)
        if m:
            out["held"] = int(m.group(1))
        m = LAT_RE.match(line)
        if m:
            k = KINDS[m.group(1)]
            out[k + "_n"] = int(m.group(2))
            out[k + "_p50"], out[k + "_p99"], out[k + "_max"] = map(float, m.groups()[2:])
    return out


def parse_out(text):
    """The guest's per-phase figures (ns -> us), from its RESULT lines."""
    out = {}
    for line in text.splitlines():
        m = RESULT_RE.match(line.strip())
        if not m:
            continue
        kv = dict(f.split("=", 1) for f in m.group(1).split() if "=" in f)
        p = kv.get("phase")
        if p not in PHASES:
            continue
        g = {k[:-3]: int(v) / 1000.0 for k, v in kv.items() if k.endswith("_ns")}
        g["n"] = int(kv.get("n", 0))
        g["bad"] = int(kv.get("bad", 0))
        if "pages_per_s" in kv:
            g["pages_per_s"] = int(kv["pages_per_s"])
        out[p] = g
    return out


def read(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def fmt(v, unit=" us"):
    return "n/a" if v is None else f"{v:.1f}{unit}"


def ratio(a, b):
    return a / b if a is not None and b else None


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def plain_medians(logdir):
    """Medians of the good runs in clear (plain-i.*), or None."""
    runs, i = [], 0
    while os.path.exists(os.path.join(logdir, f"plain-{i + 1}.rc")):
        i += 1
        base = os.path.join(logdir, f"plain-{i}")
        err, out = parse_err(read(base + ".err")), parse_out(read(base + ".out"))
        if read(base + ".rc", "?").strip() != "0" or any(p not in out for p in PHASES) or \
           any(k not in err for k in ("read_p50", "write_p50", "upgrade_p50")):
            print(f"run {i} in clear: FAILED (status {read(base + '.rc', '?').strip()})")
            continue
        r = dict(err)
        for p, g in out.items():
            for k, v in g.items():
                r[f"g_{p}_{k}"] = v
        runs.append(r)
    if not runs:
        return None, 0
    return {k: med([r.get(k) for r in runs]) for k in runs[0]}, len(runs)


def main():
    pages, stream, memory, logdir = sys.argv[1:5]
    runs, failed = [], []
    i = 0
    while os.path.exists(os.path.join(logdir, f"run-{i + 1}.rc")):
        i += 1
        base = os.path.join(logdir, f"run-{i}")
        rc = read(base + ".rc", "?").strip()
        err, out = parse_err(read(base + ".err")), parse_out(read(base + ".out"))
        load = read(base + ".load", "?").strip()
        missing = [k for k in ("rtt_p50", "read_p50", "write_p50", "upgrade_p50") if k not in err]
        missing += [p for p in PHASES if p not in out]
        bad = sum(g["bad"] for g in out.values())
        if rc != "0" or missing or bad:
            why = f"status {rc}" + (f", missing {' '.join(missing)}" if missing else "") + \
                  (f", {bad} wrong values" if bad else "")
            print(f"run {i}: FAILED ({why}); last lines of the guest's output, then of stderr:")
            for line in read(base + ".out").splitlines()[-3:] + read(base + ".err").splitlines()[-5:]:
                print("    " + line)
            failed.append(i)
        else:
            r = dict(err)
            for p, g in out.items():
                for k, v in g.items():
                    r[f"g_{p}_{k}"] = v
            r["load"] = load
            runs.append(r)
            rtt = r["rtt_p50"]
            print(f"run {i} (load {load}): raw TCP rtt p50 {fmt(rtt)}, p99 {fmt(r['rtt_p99'])}")
            for k in ("read", "write", "upgrade"):
                print(f"  vmm   {k:8s} p50 {fmt(r[k + '_p50']):>10s} ({ratio(r[k + '_p50'], rtt):4.1f}x rtt)"
                      f"  p99 {fmt(r[k + '_p99']):>10s} ({ratio(r[k + '_p99'], r['rtt_p99']):4.1f}x rtt p99)"
                      f"  max {fmt(r[k + '_max'])}  [{r[k + '_n']} remote faults]")
            for p in PHASES:
                print(f"  guest {p:8s} p50 {fmt(r[f'g_{p}_p50']):>10s}  p99 {fmt(r[f'g_{p}_p99']):>10s}"
                      f"  max {fmt(r[f'g_{p}_max']):>10s}  [{r[f'g_{p}_n']} accesses]"
                      + (f"  {r['g_stream_pages_per_s']} pages/s" if p == "stream" else ""))
    if not runs:
        print("fault: no run succeeded")
        print(json.dumps({"bench": "fault", "runs": 0, "failed": len(failed), "where": WHERE}))
        return 1

    m = {k: med([r.get(k) for r in runs]) for k in runs[0] if k != "load"}
    rat = {k: ratio(m[k + "_p50"], m["rtt_p50"]) for k in KINDS.values()}
    rat99 = {k: ratio(m[k + "_p99"], m["rtt_p99"]) for k in KINDS.values()}
    each = lambda k: ", ".join(f"{r[k]:.0f}" for r in runs)
    print(f"\nmedians over {len(runs)} runs ({len(failed)} failed); pages={pages} stream={stream} memory={memory}")
    print(f"  raw TCP 64 B -> 4 KiB round trip: p50 {fmt(m['rtt_p50'])}, p99 {fmt(m['rtt_p99'])}"
          f"   [p50 of each run: {each('rtt_p50')}]")
    print("  remote faults, fault -> wake inside the VMM (node 0, --stats), ratio of medians to the rtt:")
    for k in ("read", "write", "upgrade"):
        print(f"    {k:8s} p50 {fmt(m[k + '_p50']):>10s} = {rat[k]:4.1f}x rtt p50"
              f"   p99 {fmt(m[k + '_p99']):>10s} = {rat99[k]:4.1f}x rtt p99   [p50 of each run: {each(k + '_p50')}]")
    print("  in the guest, ring 3, access to access (adds userfaultfd delivery and KVM):")
    for p in PHASES:
        print(f"    {p:8s} p50 {fmt(m[f'g_{p}_p50']):>10s}   p99 {fmt(m[f'g_{p}_p99']):>10s}"
              f"   [p50 of each run: {each(f'g_{p}_p50')}]")
    print(f"  streaming read: {m['g_stream_pages_per_s']:.0f} pages/s "
          f"({m['g_stream_pages_per_s'] * 4096 / 1e6:.1f} MB/s)")
    print(f"  local fault floor (no network, guest): p50 {fmt(m['g_local_p50'])} "
          f"= {ratio(m['g_local_p50'], m['rtt_p50']):.1f}x rtt p50")
    extra = {k: m[k + "_n"] - int(pages) - (int(stream) if k == "read" else 0) for k in KINDS.values()}
    print(f"  VMM samples from outside the phases (start-up, hand-over): read {extra['read']:.0f}, "
          f"write {extra['write']:.0f}, upgrade {extra['upgrade']:.0f}; its percentiles cover the last "
          f"1024 of a kind: " + ("the phases' alone" if int(pages) >= 1024 else
                                "MIXED (pages < 1024), trust the guest's figures"))
    print(f"  upgrade p50 / rtt p50 = {rat['upgrade']:.2f} (goal <= {GOAL}): "
          + ("met" if rat["upgrade"] <= GOAL else "NOT met"))

    plain, nplain = plain_medians(logdir)
    seal = {}
    if plain:
        print(f"  cost of sealing the links, medians sealed / in clear (--insecure-network, "
              f"{nplain} runs):")
        for k in ("read", "write", "upgrade"):
            seal[k] = ratio(m[k + "_p50"], plain[k + "_p50"])
            print(f"    {k:8s} p50 {fmt(m[k + '_p50']):>10s} / {fmt(plain[k + '_p50']):>10s}"
                  f" = {seal[k]:.3f}")
        seal["stream"] = ratio(plain["g_stream_pages_per_s"], m["g_stream_pages_per_s"])
        print(f"    stream   {m['g_stream_pages_per_s']:.0f} / {plain['g_stream_pages_per_s']:.0f} pages/s"
              f" (time per page {seal['stream']:.3f}x)")

    r2 = lambda v: None if v is None else round(v, 2)
    js = {"bench": "fault", "runs": len(runs), "failed": len(failed),
          "pages": int(pages), "stream_pages": int(stream), "memory": memory,
          "rtt_p50_us": r2(m["rtt_p50"]), "rtt_p99_us": r2(m["rtt_p99"])}
    for k in ("read", "write", "upgrade"):
        js[f"{k}_p50_us"] = r2(m[k + "_p50"])
        js[f"{k}_p99_us"] = r2(m[k + "_p99"])
        js[f"{k}_ratio"] = r2(rat[k])
        js[f"{k}_p99_ratio"] = r2(rat99[k])
    for p in PHASES:
        js[f"guest_{p}_p50_us"] = r2(m[f"g_{p}_p50"])
        js[f"guest_{p}_p99_us"] = r2(m[f"g_{p}_p99"])
    js["stream_pages_per_s"] = round(m["g_stream_pages_per_s"])
    js["plain_runs"] = nplain
    for k, v in seal.items():
        js[f"seal_{k}_ratio"] = r2(v)
    if plain:
        js["plain_stream_pages_per_s"] = round(plain["g_stream_pages_per_s"])
    js["goal_ratio"] = GOAL
    js["goal_met"] = rat["upgrade"] <= GOAL
    js["loads"] = [r["load"] for r in runs]
    js["where"] = WHERE
    print(json.dumps(js))
    return 0


if __name__ == "__main__":
    sys.exit(main())
