#!/usr/bin/env python3
"""The control plane end to end: a 3-node VM (node processes on loopback)
running the spin guest, driven through its API on the Unix socket and on
TCP with a token, and through `amalgam ctl`. Every response is validated
against docs/openapi.yaml. Usage: api_test.py AMALGAM SPEC SPIN_S"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from openapi_check import Spec, build_spin  # noqa: E402

AMALGAM, SPEC, SPIN_S = sys.argv[1:4]
SCALE = float(os.environ.get('AMALGAM_TEST_TIME_SCALE', '1') or 1)
spec = Spec(SPEC)
fails = 0


def fail(msg):
    global fails
    fails += 1
    print('FAIL:', msg, flush=True)


def ok(msg):
    print('ok:', msg, flush=True)


def check(cond, msg):
    (ok if cond else fail)(msg)
    return cond


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__('localhost', timeout=15 * SCALE)
        self.sock_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(15 * SCALE)
        self.sock.connect(self.sock_path)


def request(conn_fn, method, path, body=None, headers=None, raw=None):
    """One request; the status and the JSON body, validated."""
    c = conn_fn()
    h = dict(headers or {})
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    if data is not None:
        h['Content-Type'] = 'application/json'
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read()
    c.close()
    try:
        j = json.loads(text)
    except ValueError:
        fail(f'{method} {path}: answer is not JSON: {text[:100]!r}')
        return r.status, None
    try:
        spec.validate(method, path, r.status, j)
    except Exception as e:  # jsonschema.ValidationError and ours
        fail(f'{method} {path} -> {r.status}: does not match docs/openapi.yaml: '
             f'{str(e).splitlines()[0]}')
    return r.status, j


def wait_until(what, fn, seconds):
    end = time.time() + seconds * SCALE
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    fail(f'timed out waiting for {what}')
    return None


def children(pid):
    """The processes whose parent is pid, from /proc (no pgrep needed in
    the lab)."""
    kids = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open(f'/proc/{d}/stat') as f:
                stat = f.read()
        except (OSError, ValueError):
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        if int(stat.rsplit(')', 1)[1].split()[1]) == pid:
            kids.append(int(d))
    return sorted(kids)


def ctl(*args):
    p = subprocess.run([AMALGAM, 'ctl', *args], capture_output=True, text=True,
                       timeout=30 * SCALE)
    return p.returncode, p.stdout, p.stderr


def main():
    tmp, spin = build_spin(SPIN_S, 'amalgam-api-')
    sock = os.path.join(tmp, 'api.sock')
    token = os.path.join(tmp, 'token')
    with open(token, 'w') as f:
        f.write('s3cret-token-for-the-api-test\n')
    err = open(os.path.join(tmp, 'run.err'), 'w+')
    vm = subprocess.Popen([AMALGAM, 'run', '--nodes', '3', '--cpus', '4', '--memory', '64M',
                           '--start', 'all', '--migrate', 'off', '--kernel', spin,
                           # Nodes 1 and 2 are stopped a second on purpose
                           # below: not long enough to be lost.
                           '--peer-timeout', str(min(600000, int(30000 * SCALE))),
                           '--api-sock', sock, '--api-listen', '127.0.0.1:0',
                           '--api-token', token],
                          stdout=subprocess.DEVNULL, stderr=err)
    try:
        run(vm, tmp, sock, token, err)
    finally:
        if vm.poll() is None:
            vm.kill()
            vm.wait()
        err.seek(0)
        log = err.read()
        if fails:
            print('--- amalgam stderr ---\n' + log[-3000:])


def run(vm, tmp, sock, token, err):
    def port():
        err.seek(0)
        m = re.search(r'API on http://\S+ \(port (\d+)\)', err.read())
        return int(m.group(1)) if m else None
    tcp_port = wait_until('the API on TCP', port, 30)
    if not wait_until('the API socket', lambda: os.path.exists(sock), 30) or not tcp_port:
        return
    check(oct(os.stat(sock).st_mode & 0o777) == '0o600', 'the socket is mode 0600')
    U = lambda: UnixHTTP(sock)  # noqa: E731
    T = lambda: http.client.HTTPConnection('127.0.0.1', tcp_port, timeout=15 * SCALE)  # noqa

    s, j = request(U, 'GET', '/api/v1/vm')
    check(s == 200 and j['state'] == 'running' and j['vcpus'] == 4 and j['nodes'] == 3,
          f'GET /vm: running, 4 vCPUs, 3 nodes ({j})')
    s, j = request(U, 'GET', '/api/v1/nodes')
    check(s == 200 and [n['id'] for n in j['nodes']] == [0, 1, 2], 'GET /nodes: nodes 0, 1, 2')
    check(sum(n['memory'] for n in j['nodes']) == 64 << 20, 'nodes contribute 64 MiB in all')
    s, jv = request(U, 'GET', '/api/v1/vcpus')
    place = [v['node'] for v in jv['vcpus']]
    check(s == 200 and len(place) == 4, f'GET /vcpus: 4 vCPUs placed {place}')
    check([n['vcpus'] for n in j['nodes']] == [place.count(i) for i in range(3)],
          'node vCPU counts agree with the vCPUs')
    # The whole cluster, not only node 0's view: every node reports to
    # node 0 every 100 ms. The spin guest's vCPUs fight over one page, so
    # every node faults, holds pages and sends some to every other.
    real = ('running', 'halted', 'wait_sipi', 'leaving', 'arrived', 'paused')

    def cluster_known():
        n = request(U, 'GET', '/api/v1/nodes')[1]['nodes']
        v = request(U, 'GET', '/api/v1/vcpus')[1]['vcpus']
        ready = (all(x['report_age_ms'] is not None and x['rtt_ms'] for x in n[1:]) and
                 all(x['state'] in real and x['page_wait_ms'] for x in v) and
                 all(x['pages_sent'] and sum(x['pages_sent']) > 0 for x in n))
        return (n, v) if ready else None
    got = wait_until('every node\'s report', cluster_known, 20)
    if got:
        jn, jv2 = got
        for v in jv2:
            if v['node'] != 0:
                check(v['state'] in real and v['page_wait_ms'] > 0 and v['exits'] is not None,
                      f'vCPU {v["id"]} on node {v["node"]}: state {v["state"]}, '
                      f'page wait {v["page_wait_ms"]:.1f} ms, {v["exits"]} exits')
        check(jn[0]['rtt_ms'] is None and all(x['rtt_ms'] > 0 for x in jn[1:]),
              f'link round trips: {[x["rtt_ms"] for x in jn]} ms')
        for n in jn:
            check(n['resident_pages'] is not None and n['resident_pages'] > 0 and
                  n['faults'] is not None and n['faults'] > 0,
                  f'node {n["id"]}: {n["resident_pages"]} resident pages, {n["faults"]} faults')
            row = n['pages_sent']
            check(isinstance(row, list) and len(row) == 3 and row[n['id']] == 0 and
                  sum(row) > 0, f'node {n["id"]}: its matrix row {row}')
        # Node 0 counts what it received from node k; node k's report says
        # what it sent node 0, a little earlier or later: close, not equal.
        for n in jn[1:]:
            check(abs(n['pages_sent'][0] - n['pages_to_node0']) <=
                  max(50, n['pages_to_node0'] // 2),
                  f'node {n["id"]} says it sent node 0 {n["pages_sent"][0]} pages, '
                  f'node 0 counted {n["pages_to_node0"]}')
    s, js = request(U, 'GET', '/api/v1/stats')
    rep = {r['node']: r['counters'] for r in js['reported']}
    check(s == 200 and sorted(rep) == [1, 2] and all(c['faults'] > 0 for c in rep.values()),
          f'GET /stats has nodes 1 and 2\'s reported counters ({sorted(rep)})')
    check(js['self']['counters'].get('reports_taken', 0) > 0,
          f'node 0 took {js["self"]["counters"].get("reports_taken")} reports')
    s, j = request(U, 'GET', '/api/v1/vcpus/2')
    check(s == 200 and j['id'] == 2, 'GET /vcpus/2')
    s, j = request(U, 'GET', '/api/v1/devices')
    check(s == 200 and any(d['name'] for d in j['devices']), f'GET /devices: {len(j["devices"])}')
    s, j = request(U, 'GET', '/api/v1/stats')
    check(s == 200 and 'faults' in j['self']['counters'], 'GET /stats has the memory plane')

    # The guest prints once it runs; the UART flushes within ~10 ms.
    check(wait_until('the guest\'s output in GET /serial', lambda: 'spin: running' in
                     request(U, 'GET', '/api/v1/serial')[1]['text'], 20),
          'GET /serial has the guest\'s output')
    c = U()
    c.request('GET', '/')
    r = c.getresponse()
    page = r.read().decode()
    c.close()
    check(r.status == 200 and r.getheader('Content-Type', '').startswith('text/html') and
          'EventSource' in page, 'GET / is the console page')

    # The event stream, opened before the move it must report.
    ev = U()
    ev.request('GET', '/api/v1/events')
    evr = ev.getresponse()
    check(evr.status == 200 and evr.getheader('Content-Type') == 'text/event-stream',
          'GET /events is an event stream')

    # A move by hand between two other nodes, then to node 0.
    last = 3
    src = place[last]
    dst = 1 if src != 1 else 2
    s, j = request(U, 'POST', f'/api/v1/vcpus/{last}/move', {'node': dst})
    check(s == 202 and j == {'vcpu': last, 'from': src, 'to': dst},
          f'move vCPU {last} from node {src} to node {dst}: 202')
    wait_until(f'vCPU {last} on node {dst}',
               lambda: request(U, 'GET', f'/api/v1/vcpus/{last}')[1]['node'] == dst, 20)
    # Its event: read the stream until a vcpu event (bounded by the socket
    # timeout and a line count).
    event = data = None
    for _ in range(200):
        line = evr.fp.readline().decode().rstrip('\n')
        if line.startswith('event: '):
            event = line[7:]
        elif line.startswith('data: ') and event == 'vcpu':
            data = json.loads(line[6:])
            break
    check(data is not None and data['vcpu'] == last and data['to'] == dst,
          f'the event stream reports the move: {data}')
    if data is not None:
        try:
            spec.validate_schema('VcpuEvent', data)
        except Exception as e:
            fail(f'vcpu event does not match VcpuEvent: {e}')
    ev.close()
    rc, out, e = ctl('--sock', sock, 'move', str(last), '0')
    check(rc == 0 and 'to node 0' in out, f'ctl move {last} 0: {out.strip()} {e.strip()}')
    v = wait_until(f'vCPU {last} on node 0 with a state of its own',
                   lambda: (lambda j: j if j['node'] == 0 and j['state'] != 'remote'
                            else None)(request(U, 'GET', f'/api/v1/vcpus/{last}')[1]), 20)
    check(v and v['moves'] >= 2, f'vCPU {last} moved twice ({v})')

    # Node events: stop nodes 1 and 2 (SIGSTOP) until node 0 says they
    # went silent, then let them go on and wait until it says they are
    # up again. Read from a stream opened before.
    ev = U()
    ev.request('GET', '/api/v1/events')
    evr = ev.getresponse()
    kids = children(vm.pid)
    check(len(kids) == 2, f'nodes 1 and 2 are processes {kids}')

    def node_events(want, lines=400):
        seen, event = set(), None
        for _ in range(lines):
            line = evr.fp.readline().decode().rstrip('\n')
            if line.startswith('event: '):
                event = line[7:]
            elif line.startswith('data: ') and event == 'node':
                d = json.loads(line[6:])
                try:
                    spec.validate_schema('NodeEvent', d)
                except Exception as e:
                    fail(f'node event does not match NodeEvent: {e}')
                if d['state'] == want:
                    seen.add(d['node'])
                if seen == {1, 2}:
                    break
        return seen
    for k in kids:
        os.kill(k, signal.SIGSTOP)
    try:
        silent = node_events('silent')
        states = [n['state'] for n in request(U, 'GET', '/api/v1/nodes')[1]['nodes']]
        check(states == ['up', 'silent', 'silent'], f'GET /nodes while stopped: {states}')
    finally:
        for k in kids:
            os.kill(k, signal.SIGCONT)
    check(silent == {1, 2}, f'node events: nodes {sorted(silent)} silent while stopped')
    up = node_events('up')
    check(up == {1, 2}, f'node events: nodes {sorted(up)} up again')
    ev.close()
    check(vm.poll() is None, 'the VM runs on after its nodes were stopped a second')

    # ctl, tables and JSON.
    rc, out, e = ctl('--sock', sock, 'status')
    check(rc == 0 and re.search(r'state\s+running', out) and re.search(r'nodes\s+3', out),
          'ctl status')
    print(out, end='')
    rc, out, e = ctl('--sock', sock, 'vcpus')
    check(rc == 0 and len(out.strip().splitlines()) == 5, 'ctl vcpus: a header and 4 rows')
    print(out, end='')
    rc, out, e = ctl('--sock', sock, 'nodes')
    table, _, matrix = out.strip().partition('\n\n')
    check(rc == 0 and len(table.splitlines()) == 4, 'ctl nodes: a header and 3 rows')
    rows = matrix.splitlines()[2:]
    check(len(rows) == 3 and all(re.fullmatch(r'node \d+(\s+(\d+|-)){3}', r.strip())
                                 for r in rows),
          f'ctl nodes: a 3x3 page matrix with a number in every cell ({rows})')
    print(out, end='')
    rc, out, e = ctl('--sock', sock, '--json', 'vcpus')
    try:
        jj = json.loads(out)
        spec.validate('GET', '/api/v1/vcpus', 200, jj)
        check(rc == 0 and jj['vcpus'][last]['node'] == 0, 'ctl --json vcpus is the API\'s JSON')
    except Exception as ex:
        fail(f'ctl --json vcpus: {ex}')
    rc, out, e = ctl('--url', f'http://127.0.0.1:{tcp_port}', '--token', token, 'stats')
    check(rc == 0 and 'api_requests' in out, 'ctl stats over TCP with the token')
    head = out.splitlines()[0].split() if out else []
    faults = next((ln.split() for ln in out.splitlines() if ln.startswith('faults ')), [])
    check(head == ['COUNTER', 'node', '0', 'node', '1', 'node', '2'] and len(faults) == 4 and
          all(x.isdigit() and int(x) > 0 for x in faults[1:]),
          f'ctl stats: a column per node, faults on each ({faults})')
    rc, out, e = ctl('--sock', sock, 'watch', '--count', '1')
    check(rc == 0 and out.count('vcpu ') == 4, 'ctl watch --count 1: one line per vCPU')

    # States: pause, resume, and what each forbids.
    s, j = request(U, 'POST', '/api/v1/vm/actions', {'action': 'pause'})
    check(s == 200 and j == {'action': 'pause', 'state': 'paused'}, 'pause')
    wait_until('node 0\'s vCPUs paused', lambda: all(
        v['state'] == 'paused' for v in request(U, 'GET', '/api/v1/vcpus')[1]['vcpus']
        if v['node'] == 0), 20)
    s, j = request(U, 'POST', '/api/v1/vm/actions', {'action': 'pause'})
    check(s == 409 and j['reason'] == 'state', 'pause while paused: 409')
    s, j = request(U, 'POST', '/api/v1/vcpus/1/move', {'node': 2})
    check(s == 409 and j['reason'] == 'state', 'move while paused: 409')
    rc, out, e = ctl('--sock', sock, 'pause')
    check(rc == 1 and len(e.strip().splitlines()) == 1 and 'refused (409)' in e,
          f'ctl pause while paused: one line, status 1 ({e.strip()})')
    s, j = request(U, 'POST', '/api/v1/vm/actions', {'action': 'resume'})
    check(s == 200 and j['state'] == 'running', 'resume')
    s, j = request(U, 'POST', '/api/v1/vm/actions', {'action': 'resume'})
    check(s == 409, 'resume while running: 409')

    # Bad input: each a 4xx with a JSON error, counted; the VM lives on.
    s0 = request(U, 'GET', '/api/v1/stats')[1]['self']['counters']['api_rejected']
    bad = [
        ('POST', '/api/v1/vm/actions', '{"action": ', 400, 'json'),
        ('POST', '/api/v1/vm/actions', '[1, 2]', 400, 'json'),
        ('POST', '/api/v1/vm/actions', '{"action": "pause", "x": 1}', 400, 'field'),
        ('POST', '/api/v1/vm/actions', '{"action": "explode"}', 400, 'field'),
        ('POST', '/api/v1/vm/actions', '{"action": 7}', 400, 'field'),
        ('POST', '/api/v1/vm/actions', '', 400, 'json'),
        ('POST', '/api/v1/vcpus/1/move', '{"node": "one"}', 400, 'field'),
        ('POST', '/api/v1/vcpus/1/move', '{"node": 9}', 400, 'range'),
        ('POST', '/api/v1/vcpus/1/move', '{"node": -1}', 400, 'range'),
        ('POST', '/api/v1/vcpus/0/move', '{"node": 1}', 409, 'state'),
        ('GET', '/api/v1/vcpus/99', None, 404, 'range'),
        ('GET', '/api/v1/vcpus/x', None, 404, 'not_found'),
        ('DELETE', '/api/v1/vm', None, 405, 'method'),
        ('PUT', '/api/v1/vm/actions', '{}', 405, 'method'),
        ('GET', '/api/v2/vm', None, 404, 'not_found'),
        ('GET', '/api/v1', None, 404, 'not_found'),
        ('POST', '/', '{}', 405, 'method'),
        ('POST', '/api/v1/vm/actions', 'x' * 10000, 413, 'too_large'),
    ]
    for method, path, raw, want, why in bad:
        s, j = request(U, method, path, raw=raw)
        check(s == want and j and j['reason'] == why,
              f'{method} {path} {str(raw)[:30]!r}: {s} {j and j["reason"]}')
    for hdr, what in (({}, 'no token'), ({'Authorization': 'Bearer wrong-token-wrong-token'},
                                         'a wrong token'),
                      ({'Authorization': 'Basic czNjcmV0'}, 'not a bearer token')):
        s, j = request(T, 'GET', '/api/v1/vm', headers=hdr)
        check(s == 401 and j['reason'] == 'auth', f'TCP with {what}: 401')
    s, j = request(T, 'GET', '/api/v1/vm',
                   headers={'Authorization': 'Bearer s3cret-token-for-the-api-test'})
    check(s == 200 and j['state'] == 'running', 'TCP with the token: 200')
    s1 = request(U, 'GET', '/api/v1/stats')[1]['self']['counters']['api_rejected']
    check(s1 - s0 == len(bad) + 3, f'every refusal counted ({s1 - s0} of {len(bad) + 3})')
    check(vm.poll() is None, 'the VM still runs after the bad requests')

    # Unreachable: one line, status 1.
    rc, out, e = ctl('--sock', os.path.join(tmp, 'nothing.sock'), 'status')
    check(rc == 1 and len(e.strip().splitlines()) == 1 and 'cannot reach' in e,
          f'ctl on a dead socket: one line, status 1 ({e.strip()})')
    rc, out, e = ctl('status')
    check(rc == 2, 'ctl without --sock or --url: status 2')

    # Power off through ctl: the VMM ends with 0 and removes its socket.
    rc, out, e = ctl('--sock', sock, 'stop')
    check(rc == 0 and 'stopping' in out, f'ctl stop: {out.strip()}')
    try:
        code = vm.wait(timeout=30 * SCALE)
        check(code == 0, f'amalgam exits 0 after the API\'s poweroff (got {code})')
    except subprocess.TimeoutExpired:
        fail('amalgam did not exit after poweroff')
    check(not os.path.exists(sock), 'the socket is removed')
    print(f'{spec.checked} responses validated against {os.path.basename(SPEC)}')


if __name__ == '__main__':
    main()
    print(f'{fails} failures')
    sys.exit(1 if fails else 0)
