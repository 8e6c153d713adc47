"""Shared helpers for the benchmarks in bench/ (run through scripts/bench).

A benchmark prints what it ran and per-run figures for people, and ends
with one JSON object on its last line for machines (json_line()).
"""

import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def note(prog, msg):
    print(f"{prog}: {msg}", file=sys.stderr, flush=True)


def median(values):
    """Median of the numbers that are not None; None if there are none."""
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def ratio(a, b):
    """a / b, or None when either is missing or b is 0."""
    if a is None or not b:
        return None
    return a / b


def rounded(x, digits=3):
    return None if x is None else round(x, digits)


def where():
    """Where this benchmark runs: "lab" inside scripts/lab (which sets
    AMALGAM_LAB=1), else "host"."""
    return "lab" if os.environ.get("AMALGAM_LAB") == "1" else "host"


def json_line(obj):
    """The benchmark's last line: one compact JSON object, saying where it
    ran ("where": "host" or "lab") unless the benchmark already did."""
    obj = dict(obj)
    obj.setdefault("where", where())
    print(json.dumps(obj, separators=(",", ":")), flush=True)


def host_kind():
    """Which KVM this machine has: pvm, vmx, svm, or none."""
    for mod, kind in (("kvm_pvm", "pvm"), ("kvm_intel", "vmx"),
                      ("kvm_amd", "svm")):
        if os.path.isdir(f"/sys/module/{mod}"):
            return kind
    return "none" if not os.path.exists("/dev/kvm") else "unknown"


def loadavg():
    """The 1-minute load average (the host is shared: say how busy it was)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


class Result:
    """What run_bounded() saw."""

    def __init__(self, status, stdout, stderr, seconds, cpu_seconds,
                 timed_out):
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds  # wall clock
        self.cpu_seconds = cpu_seconds  # user + system, the child's
        self.timed_out = timed_out


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_bounded(cmd, timeout, cwd=ROOT):
    """Run cmd (stdin /dev/null) in its own process group, killed after
    timeout seconds; returns a Result with the decoded output. Its CPU time
    is that of the reaped children meanwhile: run one command at a time."""
    start = time.monotonic()
    cpu0 = children_cpu()
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return Result(proc.returncode,
                  out.decode("utf-8", "replace").replace("\r\n", "\n"),
                  err.decode("utf-8", "replace"),
                  time.monotonic() - start, children_cpu() - cpu0, timed_out)


def last_lines(text, n=15):
    lines = text.rstrip("\n").splitlines()
    return "\n".join(lines[-n:])


def ensure_built(build, targets):
    """Build the named ninja targets in build (e.g. a guest ELF the build
    dir predates). Returns an error message or None."""
    r = run_bounded(["ninja", "-C", build] + targets, 600)
    if r.status != 0:
        return (f"ninja -C {build} {' '.join(targets)} failed:\n"
                + last_lines(r.stdout + r.stderr))
    return None


# ---- Guests and amalgam's own lines (bench/ipi, bench/mmio) ----

# amalgam run --measure-rtt N: node 0 times N raw TCP round trips (64 B out,
# 4 KiB back) to each other node before boot and prints one line per node.
RTT_RE = re.compile(r"amalgam\[0\] rtt: node (\d+): .* over (\d+) samples: "
                    r"p50 ([\d.]+) us, p99 ([\d.]+) us, min ([\d.]+) us")


def parse_rtt(stderr, node=1):
    """The raw TCP round trip to node from amalgam's stderr, as a dict of
    samples, p50, p99 and min (us), or None."""
    for m in RTT_RE.finditer(stderr):
        if int(m.group(1)) == node:
            return {"samples": int(m.group(2)), "p50": float(m.group(3)),
                    "p99": float(m.group(4)), "min": float(m.group(5))}
    return None


def parse_results(stdout, name):
    """The guest's "RESULT name key=value ..." lines as a list of dicts;
    values that are integers become ints."""
    out = []
    for m in re.finditer(rf"^RESULT {re.escape(name)} (.*)$", stdout, re.M):
        d = {}
        for kv in m.group(1).split():
            if "=" in kv:
                k, v = kv.split("=", 1)
                d[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
        out.append(d)
    return out


PLANE_RE = re.compile(r"^memory plane, node (\d+):\n\s+faults \d+: read miss "
                      r"(\d+), write miss (\d+), upgrade (\d+)", re.M)


def parse_remote_faults(stderr):
    """Remote faults (read miss + write miss + upgrade) per node, from the
    memory-plane blocks of amalgam --stats."""
    return {int(m.group(1)): sum(map(int, m.groups()[1:]))
            for m in PLANE_RE.finditer(stderr)}


def summary_ok(stdout):
    """Whether the guest's kit summary says no test failed."""
    m = re.search(r"^SUMMARY: (\d+) tests, (\d+) failures", stdout, re.M)
    return bool(m) and m.group(2) == "0"


def bounded_cmd(cmd, timeout):
    """cmd under coreutils timeout (TERM, then KILL 5 s later): with
    run_bounded(cmd, timeout + 15) as a backstop, a run cannot hang."""
    return ["timeout", "-k", "5", str(int(timeout))] + cmd
