#!/usr/bin/env python3
"""Small steps of tests/bench/run that need HTTP and JSON.

  helpers.py last-cursor URL TOKEN N      the `next` cursor whose page (limit=100) is the last
                                          page of the objects/ URL with N visible objects
  helpers.py check BASE TOKEN PATH        one request per scenario, checked by shape; exit 1 on
                                          a wrong answer
  helpers.py start-time BINARY CONFIG N   median ms from exec to /management/ready = 200 over N
                                          starts (the config's listen port must be free)
  helpers.py rss PID                      VmRSS and VmHWM of PID in KiB, as JSON
  helpers.py quiet BASE                   wait (at most 300 s) until taxiid runs no request but
                                          this one: requests whose client wrk already dropped
                                          would otherwise be measured against the next scenario
"""

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

ACCEPT = "application/taxii+json;version=2.1"


def get(url, token):
    req = urllib.request.Request(url, headers={"Accept": ACCEPT, "Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status, json.loads(r.read() or b"{}")


def last_cursor(objects_url, token, visible):
    """The cursor after row `visible` - 100 (pages of at most 1000), so its page is the last
    one and holds exactly 100 objects. Cursors do not depend on the limit."""
    cursor, left = None, visible - 100
    while left > 0:
        q = {"limit": str(min(1000, left))}
        if cursor:
            q["next"] = cursor
        _, page = get(objects_url + "?" + urllib.parse.urlencode(q), token)
        left -= len(page["objects"])
        cursor = page["next"]
    _, last = get(objects_url + "?" + urllib.parse.urlencode({"limit": "100", "next": cursor}), token)
    assert len(last["objects"]) == 100 and not last["more"], "the cursor is not at the last page"
    return cursor


def check(base, token, collection_path):
    """Each GET scenario once: the answers must have the expected shape."""
    objects = base + collection_path + "objects/"
    status, page = get(objects + "?limit=100", token)
    assert status == 200 and len(page["objects"]) == 100 and page["more"], "first page"
    first = page["objects"][0]["id"]
    _, one = get(objects + first + "/", token)
    assert one["objects"][0]["id"] == first, "object by id"
    _, manifest = get(base + collection_path + "manifest/?limit=100", token)
    assert len(manifest["objects"]) == 100 and "media_type" in manifest["objects"][0], "manifest"
    _, disc = get(base + "/taxii2/", token)
    assert "api_roots" in disc, "discovery"
    print("checks passed")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_time(binary, config, n):
    times = []
    for _ in range(n):
        port = free_port()
        env = {"TAXIID_LISTEN": "127.0.0.1:%d" % port, "PATH": "/usr/bin:/bin"}
        t0 = time.monotonic()
        p = subprocess.Popen([binary, "serve", "--config", config], env=env, stderr=subprocess.DEVNULL)
        try:
            while True:
                if p.poll() is not None:
                    raise SystemExit("taxiid exited during the start-time measurement")
                try:
                    c = socket.create_connection(("127.0.0.1", port), timeout=1)
                    c.sendall(b"GET /management/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    answer = c.recv(64)
                    c.close()
                    if answer.startswith(b"HTTP/1.1 200"):
                        times.append((time.monotonic() - t0) * 1000)
                        break
                except OSError:
                    pass
                time.sleep(0.0005)
        finally:
            p.terminate()
            p.wait()
    times.sort()
    print(json.dumps({"start_ms": round(times[len(times) // 2], 1), "all_ms": [round(t, 1) for t in times]}))


def rss(pid):
    fields = {}
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                fields[k] = int(v.split()[0])
    print(json.dumps(fields))


def quiet(base):
    deadline = time.monotonic() + 300
    while True:
        req = urllib.request.Request(base + "/management/metrics")
        with urllib.request.urlopen(req, timeout=120) as r:
            text = r.read().decode()
        busy = [float(l.split()[1]) for l in text.splitlines() if l.startswith("taxiid_http_requests_in_flight ")]
        if busy and busy[0] <= 1:
            return
        if time.monotonic() > deadline:
            sys.exit("taxiid still busy after 300 s: %s requests in flight" % busy)
        time.sleep(0.1)


if __name__ == "__main__":
    cmd = sys.argv[1:2]
    if cmd == ["last-cursor"]:
        print(last_cursor(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    elif cmd == ["check"]:
        check(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == ["start-time"]:
        start_time(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == ["rss"]:
        rss(sys.argv[2])
    elif cmd == ["quiet"]:
        quiet(sys.argv[2])
    else:
        sys.exit(__doc__)
