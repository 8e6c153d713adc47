#!/usr/bin/env python3
"""Prometheus metrics on every node of a 3-node VM (node processes on
loopback): each node's /metrics is scraped and parsed by prometheus_client's
own text parser (Debian's python3-prometheus-client), then checked.
Usage: metrics_test.py AMALGAM SPIN_S"""
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from openapi_check import build_spin  # noqa: E402

AMALGAM, SPIN_S = sys.argv[1:3]
SCALE = float(os.environ.get('AMALGAM_TEST_TIME_SCALE', '1') or 1)
fails = 0


def check(cond, msg):
    global fails
    if not cond:
        fails += 1
    print(('ok: ' if cond else 'FAIL: ') + msg, flush=True)
    return cond


def scrape(url):
    with urllib.request.urlopen(url, timeout=10 * SCALE) as r:
        ctype = r.headers.get('Content-Type', '')
        return ctype, r.read().decode()


def main():
    tmp, spin = build_spin(SPIN_S, 'amalgam-metrics-')
    err = open(os.path.join(tmp, 'run.err'), 'w+')
    vm = subprocess.Popen([AMALGAM, 'run', '--nodes', '3', '--cpus', '3', '--memory', '64M',
                           '--start', 'all', '--migrate', 'off', '--kernel', spin,
                           '--metrics-listen', '127.0.0.1:0',
                           '--api-sock', os.path.join(tmp, 'api.sock')],
                          stdout=subprocess.DEVNULL, stderr=err)
    try:
        urls = {}
        end = time.time() + 30 * SCALE
        while len(urls) < 3 and time.time() < end and vm.poll() is None:
            err.seek(0)
            for node, url in re.findall(r'amalgam\[(\d)\]: metrics on (http://\S+)', err.read()):
                urls[int(node)] = url
            time.sleep(0.1)
        if not check(sorted(urls) == [0, 1, 2], f'three nodes serve metrics: {urls}'):
            return
        # Let every node fault on the spin guest's shared page a while.
        time.sleep(1 * SCALE)
        for node, url in sorted(urls.items()):
            ctype, text = scrape(url)
            check(ctype.startswith('text/plain; version=0.0.4'), f'node {node}: {ctype}')
            try:
                fams = {f.name: f for f in text_string_to_metric_families(text)}
            except Exception as e:
                check(False, f'node {node}: the parser refuses the metrics: {e}')
                continue
            samples = [s for f in fams.values() for s in f.samples]
            check(len(fams) > 30 and all(s.labels.get('node') == str(node) for s in samples),
                  f'node {node}: {len(fams)} families, {len(samples)} samples, '
                  f'every one labelled node="{node}"')
            # prometheus_client names counter families without _total.
            for name, kind in (('amalgam_faults', 'counter'), ('amalgam_vcpu_exits', 'counter'),
                               ('amalgam_mem_msgs_sent', 'counter'),
                               ('amalgam_net_msgs_sent', 'counter'),
                               ('amalgam_vcpus_here', 'gauge'),
                               ('amalgam_fault_seconds', 'histogram'),
                               ('amalgam_remote_fault_seconds', 'histogram')):
                check(name in fams and fams[name].type == kind, f'node {node}: {name} ({kind})')
            here = [s.value for s in fams['amalgam_vcpus_here'].samples]
            check(here == [1.0], f'node {node}: one vCPU here ({here})')
            h = [s for s in fams['amalgam_fault_seconds'].samples]
            buckets = [s.value for s in h if s.name.endswith('_bucket')]
            count = [s.value for s in h if s.name.endswith('_count')][0]
            check(buckets == sorted(buckets) and buckets[-1] == count and count > 0,
                  f'node {node}: fault latency histogram cumulative, {int(count)} faults')
            check(fams['amalgam_faults'].samples[0].value >= count,
                  f'node {node}: faults counter >= histogram count')
            # Every other node reports to node 0 (for its API), which
            # takes them all: none malformed, none refused.
            if node == 0:
                taken = fams['amalgam_reports_taken'].samples[0].value
                refused = {s.labels['reason']: s.value
                           for s in fams['amalgam_reports_rejected'].samples}
                check(taken >= 2 and not any(refused.values()),
                      f'node 0 took {int(taken)} reports, refused none ({refused})')
                bad = fams['amalgam_net_bad_pongs'].samples[0].value
                check(bad == 0, f'node 0 refused {int(bad)} PONGs of its link pings')
            else:
                sent = [s.value for s in fams['amalgam_net_msgs_sent'].samples
                        if s.labels.get('type') == 'REPORT']
                check(sent and sent[0] > 0, f'node {node} sent {sent} reports')
        try:
            urllib.request.urlopen(urls[0].replace('/metrics', '/other'), timeout=10)
            check(False, 'another path: 404')
        except urllib.error.HTTPError as e:
            check(e.code == 404, f'another path: {e.code}')
        try:
            urllib.request.urlopen(urllib.request.Request(urls[0], data=b'x', method='POST'),
                                   timeout=10)
            check(False, 'POST /metrics: 405')
        except urllib.error.HTTPError as e:
            check(e.code == 405, f'POST /metrics: {e.code}')
        check(vm.poll() is None, 'the VM runs on')
        # The API's reset ends the VMM with 0, as a reset by the guest does.
        p = subprocess.run([AMALGAM, 'ctl', '--sock', os.path.join(tmp, 'api.sock'), 'reset'],
                           capture_output=True, text=True, timeout=30 * SCALE)
        check(p.returncode == 0 and 'reset: the VM is stopping' in p.stdout,
              f'ctl reset: {p.stdout.strip()} {p.stderr.strip()}')
        try:
            check(vm.wait(timeout=30 * SCALE) == 0, f'amalgam exits 0 after reset ({vm.poll()})')
        except subprocess.TimeoutExpired:
            check(False, 'amalgam did not exit after reset')
    finally:
        if vm.poll() is None:
            vm.terminate()
            try:
                vm.wait(timeout=30 * SCALE)
            except subprocess.TimeoutExpired:
                vm.kill()
                vm.wait()
        if fails:
            err.seek(0)
            print('--- amalgam stderr ---\n' + err.read()[-3000:])


if __name__ == '__main__':
    main()
    print(f'{fails} failures')
    sys.exit(1 if fails else 0)
