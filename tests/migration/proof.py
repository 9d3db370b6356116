"""Client side of tests/migration/run-opentaxii-proof: the same questions asked of OpenTAXII and
of taxiid, answered as plain lines that the script compares.

  free-port                                   a free TCP port on 127.0.0.1
  wait URL SECONDS                            until GET URL answers 200 (exit 1 on timeout)
  login BASE USER PASSWORD                    HTTP status of POST BASE/management/auth
  token BASE USER PASSWORD                    the token from POST BASE/management/auth
  status URL                                  HTTP status of a TAXII 1.1 discovery POST to URL
  poll HOST PORT PATH COLLECTION [USER PASSWORD | bearer TOKEN]
                                              one line per block (cabby), in server order:
                                              timestamp, binding, subtype, sha256 of the content,
                                              sha256 of its exclusive C14N (the raw hash for
                                              non-XML content)
  collections HOST PORT PATH [USER PASSWORD]  one line per TAXII 1 collection (cabby), sorted
  taxii2-collections BASE TOKEN               one line per collection of the default API root

Only the loopback interface is ever contacted.
"""

import hashlib
import json
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

DISCOVERY_11 = (
    '<taxii_11:Discovery_Request xmlns:taxii_11="http://taxii.mitre.org/messages/taxii_xml_binding-1.1" '
    'message_id="1"/>'
)
TAXII_HEADERS = {
    "Content-Type": "application/xml",
    "Accept": "application/xml",
    "X-TAXII-Content-Type": "urn:taxii.mitre.org:message:xml:1.1",
    "X-TAXII-Services": "urn:taxii.mitre.org:services:1.1",
    "X-TAXII-Protocol": "urn:taxii.mitre.org:protocol:http:1.0",
    "X-TAXII-Accept": "urn:taxii.mitre.org:message:xml:1.1",
}


def loopback_only(url):
    host = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"refusing a non-loopback address: {url}")


def http(method, url, body=None, headers=None, timeout=30):
    loopback_only(url)
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def auth(base, user, password):
    body = json.dumps({"username": user, "password": password}).encode()
    return http("POST", base + "/management/auth", body, {"Content-Type": "application/json"})


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def canonical(content):
    """Exclusive C14N drops namespace declarations nothing uses, such as the ones libtaxii adds
    when OpenTAXII re-serialises content, and whatever follows the root element."""
    from lxml import etree

    try:
        root = etree.fromstring(content)
    except etree.XMLSyntaxError:
        return content
    return etree.tostring(root, method="c14n", exclusive=True)


def client(host, port, creds):
    from cabby import create_client

    headers = None
    if len(creds) == 2 and creds[0] == "bearer":
        headers = {"Authorization": "Bearer " + creds[1]}
    c = create_client(host, port=int(port), version="1.1", headers=headers)
    if len(creds) == 2 and creds[0] != "bearer":
        c.set_auth(username=creds[0], password=creds[1])
    return c


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "free-port":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
    elif cmd == "wait":
        url, deadline = args[0], time.time() + float(args[1])
        while time.time() < deadline:
            try:
                if http("GET", url, timeout=5)[0] == 200:
                    return 0
            except OSError:
                pass
            time.sleep(0.5)
        return 1
    elif cmd == "login":
        print(auth(*args)[0])
    elif cmd == "token":
        status, body = auth(*args)
        if status != 200:
            raise SystemExit(f"login failed: {status}")
        print(json.loads(body)["token"])
    elif cmd == "status":
        print(http("POST", args[0], DISCOVERY_11.encode(), TAXII_HEADERS)[0])
    elif cmd == "poll":
        host, port, path, collection = args[:4]
        for b in client(host, port, args[4:]).poll(collection, uri=path):
            content = b.content if isinstance(b.content, bytes) else b.content.encode("utf-8")
            subtypes = ",".join(getattr(b.binding, "subtypes", None) or []) or "-"
            binding = getattr(b.binding, "id", b.binding)
            stamp = b.timestamp.isoformat() if b.timestamp else "-"
            print(stamp, binding, subtypes, sha256(content), sha256(canonical(content)))
    elif cmd == "collections":
        host, port, path = args[:3]
        lines = []
        for c in client(host, port, args[3:]).get_collections(uri=path):
            bindings = ",".join(sorted(b.id for b in c.content_bindings or [])) or "-"
            lines.append(f"{c.name}|{c.type}|{c.available}|{c.volume}|{bindings}|{c.description}")
        print("\n".join(sorted(lines)))
    elif cmd == "taxii2-collections":
        base, token = args
        hdrs = {"Accept": "application/taxii+json;version=2.1", "Authorization": "Bearer " + token}
        status, body = http("GET", base + "/taxii2/default/collections/", headers=hdrs)
        if status != 200:
            raise SystemExit(f"GET collections: {status} {body[:200]!r}")
        for c in json.loads(body).get("collections", []):
            print(f"{c['id']}|{c['title']}|{c.get('alias', '-')}")
    elif cmd == "taxii2-objects":
        # Every version of every object in a collection, one id per line, sorted; pages
        # followed through `next`.
        base, token, root, coll = args
        hdrs = {"Accept": "application/taxii+json;version=2.1", "Authorization": "Bearer " + token}
        url = f"{base}/taxii2/{root}/collections/{coll}/objects/?match%5Bversion%5D=all&limit=3"
        ids, after = [], None
        for _ in range(1000):
            status, body = http("GET", url + (f"&next={urllib.parse.quote(after)}" if after else ""), headers=hdrs)
            if status != 200:
                raise SystemExit(f"GET objects: {status} {body[:200]!r}")
            page = json.loads(body)
            ids += [o["id"] for o in page.get("objects", [])]
            if not page.get("more"):
                break
            after = page["next"]
        print("\n".join(sorted(ids)))
    else:
        raise SystemExit(f"unknown command {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
