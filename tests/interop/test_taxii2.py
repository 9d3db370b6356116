#!/usr/bin/env python3
"""TAXII 2.1 interop suite: taxiid driven by the real clients, taxii2-client (v21) and stix2.

Run by tests/interop/run-taxii2, which starts a private `taxiid dev` server and passes it in
through the environment:

  INTEROP_BASE                  http://127.0.0.1:<port>
  INTEROP_PASSWORD              the admin password printed by `taxiid dev`
  INTEROP_API_ROOT              the default API root's id
  INTEROP_COLLECTION_PRIVATE    "Indicators" (alias indicators, not public)
  INTEROP_COLLECTION_PUBLIC     "Public feed" (alias public, public read, not public write)
  INTEROP_TITLE, INTEROP_DESCRIPTION, INTEROP_CONTACT, INTEROP_MAX_CONTENT_LENGTH,
  INTEROP_MAX_PAGE_SIZE         what run-taxii2 put into the server's configuration

Arguments: substrings of test names to run only those (shared data is set up on demand).
Prints one PASS/FAIL line per test, then `N passed, M failed`; exits 1 on any failure.
"""

import json
import os
import re
import sys
import uuid
from datetime import datetime, timezone

import requests
from requests.exceptions import HTTPError

import stix2
from stix2 import Filter, TAXIICollectionSink, TAXIICollectionSource
from taxii2client.exceptions import AccessError
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

T21 = "application/taxii+json;version=2.1"
STIX21 = "application/stix+json;version=2.1"

BASE = os.environ["INTEROP_BASE"].rstrip("/")
PASSWORD = os.environ["INTEROP_PASSWORD"]
ROOT_ID = os.environ["INTEROP_API_ROOT"]
PRIVATE_ID = os.environ["INTEROP_COLLECTION_PRIVATE"]
PUBLIC_ID = os.environ["INTEROP_COLLECTION_PUBLIC"]
TITLE = os.environ["INTEROP_TITLE"]
DESCRIPTION = os.environ["INTEROP_DESCRIPTION"]
CONTACT = os.environ["INTEROP_CONTACT"]
MAX_CONTENT_LENGTH = int(os.environ["INTEROP_MAX_CONTENT_LENGTH"])
MAX_PAGE_SIZE = int(os.environ["INTEROP_MAX_PAGE_SIZE"])  # small: 10

DISCOVERY_URL = BASE + "/taxii2/"
ROOT_URL = BASE + "/taxii2/" + ROOT_ID + "/"
PRIVATE_URL = ROOT_URL + "collections/" + PRIVATE_ID + "/"
PUBLIC_URL = ROOT_URL + "collections/" + PUBLIC_ID + "/"
ADMIN = {"user": "admin", "password": PASSWORD}
HTTP_TIMEOUT = 30  # for the requests made directly (taxii2-client sets none)


# --- test runner (tests/interop/minitest.py) ------------------------------------------

from minitest import check, main, once, test  # noqa: E402


def eq(got, want, what):
    if got != want:
        raise AssertionError("%s: expected %s, got %s" % (what, short(want), short(got)))


def short(v, limit=600):
    s = v if isinstance(v, str) else json.dumps(v, default=str, ensure_ascii=False, sort_keys=True)
    return s if len(s) <= limit else s[:limit] + "…"


def http_status(e):
    return e.response.status_code if getattr(e, "response", None) is not None else None


def expect_http_error(status, fn, *args, **kwargs):
    """Calls fn, which must raise requests' HTTPError with the given status."""
    try:
        result = fn(*args, **kwargs)
    except HTTPError as e:
        got = http_status(e)
        if got != status:
            body = e.response.text[:300] if e.response is not None else ""
            raise AssertionError("expected HTTP %s, got HTTP %s: %s" % (status, got, body))
        return e.response
    raise AssertionError("expected HTTP %s, but the call succeeded: %s" % (status, short(result)))


# --- timestamps --------------------------------------------------------------------------

TS_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$")
SERVER_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def instant(s):
    """A STIX/TAXII timestamp as a comparable (datetime, nanoseconds) pair."""
    m = TS_RE.match(s or "")
    check(m, "not an RFC 3339 UTC timestamp: %r", s)
    whole = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return whole, int((m.group(2) or "").ljust(9, "0"))


def server_ts(s, what):
    check(isinstance(s, str) and SERVER_TS_RE.match(s), "%s: %r is not YYYY-MM-DDTHH:MM:SS.ffffffZ", what, s)
    return instant(s)


# --- test data -----------------------------------------------------------------------------


def sid(type_):
    return "%s--%s" % (type_, uuid.uuid4())


def ts(second, frac=".000"):
    return "2024-03-01T10:%02d:%02d%sZ" % (second // 60, second % 60, frac)


def make_envelope_objects():
    """25 STIX 2.1 objects: 10 indicators, 8 malware, 7 relationships, fixed timestamps."""
    malware, indicators, relationships = [], [], []
    fracs = [".000", ".123", ".500", ".123456", ".010"]
    for i in range(8):
        t = ts(i, fracs[i % len(fracs)])
        malware.append({
            "type": "malware",
            "spec_version": "2.1",
            "id": sid("malware"),
            "created": t,
            "modified": t,
            "name": "Interop malware %d" % i,
            "is_family": i % 2 == 0,
            "malware_types": ["trojan", "backdoor"][: 1 + i % 2],
        })
    for i in range(10):
        created = ts(100 + i, ".000")
        ind = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": sid("indicator"),
            "created": created,
            "modified": ts(200 + i, fracs[i % len(fracs)]),
            "name": "Interop indicator %d" % i,
            "description": "Zürich – 東京 – \"quoted\" \\ backslash – emoji \U0001F600 – line\nbreak",
            "indicator_types": ["malicious-activity"],
            "pattern": "[ipv4-addr:value = '198.51.100.%d']" % (i + 1),
            "pattern_type": "stix",
            "valid_from": created,
            "labels": ["interop", "batch-%d" % (i % 3)],
            "confidence": 10 * i,
        }
        indicators.append(ind)
    for i in range(7):
        t = ts(300 + i, ".999")
        relationships.append({
            "type": "relationship",
            "spec_version": "2.1",
            "id": sid("relationship"),
            "created": t,
            "modified": t,
            "relationship_type": "indicates",
            "source_ref": indicators[i]["id"],
            "target_ref": malware[i]["id"],
        })
    return indicators + malware + relationships


def version_of(obj):
    return obj.get("modified") or obj.get("created")


def expected_key_order(posted):
    first = [k for k in ("id", "type", "spec_version") if k in posted]
    return first + [k for k in posted if k not in first]


# --- clients ---------------------------------------------------------------------------------


def admin_collection(url=PRIVATE_URL):
    return Collection(url, **ADMIN)


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = "Bearer " + self.token
        return r


def all_pages(func, per_request, **filters):
    pages = list(as_pages(func, per_request=per_request, **filters))
    items = [o for p in pages for o in p.get("objects", [])]
    return pages, items


def check_status(status, total, success, failure=0, what="status"):
    eq(status.status, "complete", what + " status")
    eq(status.total_count, total, what + " total_count")
    eq(status.success_count, success, what + " success_count")
    eq(status.failure_count, failure, what + " failure_count")
    eq(status.pending_count, 0, what + " pending_count")


# --- shared data -----------------------------------------------------------------------------


@once
def envelope():
    """The 25 objects, posted to the private collection (once)."""
    objects = make_envelope_objects()
    status = admin_collection().add_objects({"objects": objects})
    check_status(status, 25, 25, what="first post")
    return {"objects": objects, "by_id": {o["id"]: o for o in objects}, "status": status}


@once
def two_versions():
    """One indicator in two versions, posted one after the other."""
    oid = sid("indicator")
    v1 = {
        "type": "indicator", "spec_version": "2.1", "id": oid,
        "created": "2024-04-01T08:00:00.000Z", "modified": "2024-04-01T08:00:00.000Z",
        "name": "Versioned indicator v1", "indicator_types": ["anomalous-activity"],
        "pattern": "[domain-name:value = 'v1.example.invalid']", "pattern_type": "stix",
        "valid_from": "2024-04-01T08:00:00.000Z",
    }
    v2 = dict(v1, modified="2024-04-02T09:30:00.250Z", name="Versioned indicator v2",
              pattern="[domain-name:value = 'v2.example.invalid']")
    coll = admin_collection()
    check_status(coll.add_objects({"objects": [v1]}), 1, 1, what="post v1")
    check_status(coll.add_objects({"objects": [v2]}), 1, 1, what="post v2")
    return {"id": oid, "v1": v1, "v2": v2}


@once
def public_objects():
    """Three objects in the public collection, posted by the admin."""
    t = "2024-05-01T00:00:00.000Z"
    objs = [
        {"type": "malware", "spec_version": "2.1", "id": sid("malware"), "created": t, "modified": t,
         "name": "Public malware %d" % i, "is_family": True}
        for i in range(3)
    ]
    check_status(admin_collection(PUBLIC_URL).add_objects({"objects": objs}), 3, 3, what="public post")
    return objs


# --- discovery, API root, collections --------------------------------------------------------


@test
def discovery():
    server = Server(DISCOVERY_URL, **ADMIN)
    eq(server.title, TITLE, "title")
    eq(server.description, DESCRIPTION, "description")
    eq(server.contact, CONTACT, "contact")
    eq([r.url for r in server.api_roots], [ROOT_URL], "api_roots (resolved against the discovery URL)")
    check(server.default is not None, "no `default` API root, or it is not one of api_roots: %s", short(server._raw))
    eq(server.default.url, ROOT_URL, "default")
    eq(server.default.title, "Default API root", "default root's title")


@test
def discovery_anonymous():
    # taxii2.public_discovery = yes
    eq(Server(DISCOVERY_URL).title, TITLE, "anonymous discovery title")


@test
def api_root_information():
    root = ApiRoot(ROOT_URL, **ADMIN)
    eq(root.title, "Default API root", "title")
    eq(root.versions, [T21], "versions")
    # min(taxii2.max_content_length, http.max_body_bytes)
    eq(root.max_content_length, MAX_CONTENT_LENGTH, "max_content_length")
    eq(ApiRoot(BASE + "/taxii2/default/", **ADMIN).title, "Default API root", "`default` as API root id")


@test
def collections_list():
    root = ApiRoot(ROOT_URL, **ADMIN)
    cols = root.collections
    eq([(c.id, c.title) for c in cols], [(PRIVATE_ID, "Indicators"), (PUBLIC_ID, "Public feed")],
       "collections (ordered by title)")
    for c in cols:
        eq(c.url, ROOT_URL + "collections/" + c.id + "/", "collection URL")
        eq((c.can_read, c.can_write), (True, True), "admin can_read/can_write on " + c.title)
        check(STIX21 in c.media_types, "%s: media_types %s lacks %s", c.title, c.media_types, STIX21)
    eq({c.id: c.alias for c in cols}, {PRIVATE_ID: "indicators", PUBLIC_ID: "public"}, "aliases")


@test
def collection_information():
    c = admin_collection()
    eq((c.id, c.title, c.can_read, c.can_write), (PRIVATE_ID, "Indicators", True, True), "collection")
    # The alias resolves too (taxii2-client itself insists on the id in the URL, so plain requests).
    r = requests.get(ROOT_URL + "collections/indicators/", auth=("admin", PASSWORD),
                     headers={"Accept": T21}, timeout=HTTP_TIMEOUT)
    eq(r.status_code, 200, "GET collections/indicators/ status")
    eq(r.json().get("id"), PRIVATE_ID, "collection id by alias")


# --- add objects, status ---------------------------------------------------------------------


@test
def add_objects():
    data = envelope()
    status = data["status"]
    eq(sorted(s["id"] for s in status.successes), sorted(data["by_id"]), "successes ids")
    for s in status.successes:
        eq(instant(s["version"]), instant(version_of(data["by_id"][s["id"]])), "successes version of " + s["id"])
    eq(status.failures or [], [], "failures")
    check(status.request_timestamp, "no request_timestamp")


@test
def status_endpoints():
    status = envelope()["status"]
    # What taxii2-client polls with: {R}status/{id}/ (it adds the slash itself).
    status.refresh()
    check_status(status, 25, 25, what="refreshed status")
    again = ApiRoot(ROOT_URL, **ADMIN).get_status(status.id)
    eq(again.id, status.id, "get_status id")
    check_status(again, 25, 25, what="get_status")
    # And without the trailing slash, as older taxii2-client releases and other clients do.
    r = requests.get(ROOT_URL + "status/" + status.id, auth=("admin", PASSWORD),
                     headers={"Accept": T21}, timeout=HTTP_TIMEOUT)
    eq(r.status_code, 200, "GET status/{id} (no slash) status")
    eq(r.headers.get("Content-Type", "").replace(" ", ""), T21, "Content-Type")
    eq(r.json().get("id"), status.id, "status id (no slash)")
    unknown = str(uuid.uuid4())
    expect_http_error(404, ApiRoot(ROOT_URL, **ADMIN).get_status, unknown)


@test
def add_objects_again_is_idempotent():
    data = envelope()
    status = admin_collection().add_objects({"objects": data["objects"]})
    check_status(status, 25, 25, what="re-post")
    # No duplicates: the paging test below counts exactly 25; check here cheaply too.
    _, man = all_pages(admin_collection().get_manifest, 7, id=",".join(data["by_id"]))
    eq(len(man), 25, "manifest records after re-post")


@test
def add_objects_partial_failure():
    good = {"type": "malware", "spec_version": "2.1", "id": sid("malware"),
            "created": "2024-06-01T00:00:00.000Z", "modified": "2024-06-01T00:00:00.000Z",
            "name": "good one", "is_family": False}
    bad = {"type": "malware", "spec_version": "2.1", "id": "not-a-stix-id",
           "created": "2024-06-01T00:00:00.000Z", "modified": "2024-06-01T00:00:00.000Z",
           "name": "bad one", "is_family": False}
    # Posted to the public collection so that the private one keeps exactly its fixtures.
    status = admin_collection(PUBLIC_URL).add_objects({"objects": [good, bad]})
    check_status(status, 2, 1, failure=1, what="partial")
    eq([s["id"] for s in status.successes], [good["id"]], "successes")
    eq(len(status.failures), 1, "failures entries")
    eq(status.failures[0].get("id"), "not-a-stix-id", "failure id")
    check(status.failures[0].get("message"), "failure without message: %s", status.failures[0])
    admin_collection(PUBLIC_URL).get_object(good["id"])  # stored


@test
def values_round_trip_unchanged():
    # Values a server must hand back exactly as posted (no float conversion of integers, no
    # re-encoding of strings). Own object in the public collection, so a failure here does
    # not disturb the other tests.
    obj = {
        "type": "indicator", "spec_version": "2.1", "id": sid("indicator"),
        "created": "2024-06-02T00:00:00.000Z", "modified": "2024-06-02T00:00:00.000Z",
        "pattern": "[ipv4-addr:value = '203.0.113.7']", "pattern_type": "stix",
        "valid_from": "2024-06-02T00:00:00.000Z",
        "x_interop_values": {
            "big_integer": 12345678901234567890,
            "beyond_double": -9007199254740993,
            "float": 0.1,
            "exponent": 1.5e300,
            "nested": [[], {}, [None, True, False, ""], {"k": ["v", 1]}],
            "escapes": "tab\t quote\" slash/ \u0001\u001f \u2028\u2029 </script> \U0001F600",
        },
    }
    coll = admin_collection(PUBLIC_URL)
    check_status(coll.add_objects({"objects": [obj]}), 1, 1, what="post")
    eq(coll.get_object(obj["id"]).get("objects"), [obj], "object read back")


# --- reading -----------------------------------------------------------------------------------


@test
def get_objects_all_pages():
    data = envelope()
    pages, items = all_pages(admin_collection().get_objects, 7, type="indicator,malware,relationship",
                             id=",".join(data["by_id"]))
    eq([len(p.get("objects", [])) for p in pages], [7, 7, 7, 4], "page sizes")
    eq([p.get("more") for p in pages], [True, True, True, False], "`more` on each page")
    for p in pages[:-1]:
        check(isinstance(p.get("next"), str) and p["next"], "page with more=true lacks `next`: %s", short(p))
    ids = [o["id"] for o in items]
    eq(len(set(ids)), len(ids), "distinct ids (duplicates across pages)")
    eq(sorted(ids), sorted(data["by_id"]), "ids")
    for o in items:
        eq(o, data["by_id"][o["id"]], "object " + o["id"])


@test
def get_objects_unfiltered_pages():
    # Without filters the private collection holds the 25 and whatever later tests added;
    # every one of the 25 must come back exactly once, whatever the page boundaries.
    data = envelope()
    pages, items = all_pages(admin_collection().get_objects, 7)
    check(all(len(p.get("objects", [])) <= 7 for p in pages), "a page exceeds limit=7: %s",
          [len(p.get("objects", [])) for p in pages])
    ids = [o["id"] for o in items]
    eq(len(set(ids)), len(ids), "distinct ids")
    missing = set(data["by_id"]) - set(ids)
    check(not missing, "objects missing from the unfiltered walk: %s", sorted(missing))


@test
def page_size_clamped_by_server():
    # A client asking for more than taxii2.max_page_size gets pages of that size, and
    # as_pages adopts the server's size for the following requests.
    data = envelope()
    coll = admin_collection()
    ids = ",".join(data["by_id"])
    first = coll.get_objects(limit=5000, id=ids)
    eq((len(first.get("objects", [])), first.get("more")), (MAX_PAGE_SIZE, True), "first page for limit=5000")
    pages, items = all_pages(coll.get_objects, 5000, id=ids)
    eq([len(p.get("objects", [])) for p in pages], [min(MAX_PAGE_SIZE, 25 - k) for k in range(0, 25, MAX_PAGE_SIZE)],
       "pages for per_request=5000")
    eq(sorted(o["id"] for o in items), sorted(data["by_id"]), "ids over clamped pages")
    # stix2 asks for 5000 per request too.
    everything = TAXIICollectionSource(coll).query()
    missing = set(data["by_id"]) - {o.id for o in everything}
    check(not missing, "TAXIICollectionSource.query() misses %s", sorted(missing))


@test
def objects_keep_member_order():
    data = envelope()
    _, items = all_pages(admin_collection().get_objects, 7, id=",".join(data["by_id"]))
    for o in items:
        eq(list(o), expected_key_order(data["by_id"][o["id"]]), "member order of " + o["id"])


@test
def manifest_all_pages():
    data = envelope()
    pages, items = all_pages(admin_collection().get_manifest, 7, id=",".join(data["by_id"]))
    eq([len(p.get("objects", [])) for p in pages], [7, 7, 7, 4], "manifest page sizes")
    eq(sorted(m["id"] for m in items), sorted(data["by_id"]), "manifest ids")
    added = []
    for m in items:
        eq(instant(m["version"]), instant(version_of(data["by_id"][m["id"]])), "manifest version of " + m["id"])
        server_ts(m["version"], "manifest version")
        added.append(server_ts(m["date_added"], "manifest date_added"))
        eq(m.get("media_type"), STIX21, "media_type")
    eq(added, sorted(added), "manifest order by date_added")


@test
def filters():
    data = envelope()
    coll = admin_collection()
    ids = ",".join(data["by_id"])
    env = coll.get_objects(type="malware", id=ids)
    eq(sorted(o["id"] for o in env.get("objects", [])),
       sorted(o["id"] for o in data["objects"] if o["type"] == "malware"), "match[type]=malware")
    _, items = all_pages(coll.get_objects, 7, type=["indicator", "relationship"], id=ids)
    eq(sorted(o["id"] for o in items),
       sorted(o["id"] for o in data["objects"] if o["type"] in ("indicator", "relationship")),
       "match[type]=indicator,relationship")
    one = data["objects"][3]
    env = coll.get_objects(id=one["id"])
    eq(env.get("objects"), [one], "match[id]")
    eq(coll.get_objects(added_after="2999-01-01T00:00:00Z"), {}, "added_after in the future")
    pages, items = all_pages(coll.get_objects, 7, added_after="2999-01-01T00:00:00Z")
    eq((len(pages), items), (1, []), "as_pages over an empty result")


@test
def object_versions():
    tv = two_versions()
    coll = admin_collection()
    env = coll.get_object(tv["id"])
    eq(env.get("objects"), [tv["v2"]], "get_object (default: last version)")
    env = coll.get_objects(version="all", id=tv["id"])
    eq(env.get("objects"), [tv["v1"], tv["v2"]], "get_objects(version=all, id=…)")
    env = coll.get_objects(id=tv["id"])
    eq(env.get("objects"), [tv["v2"]], "get_objects(id=…) default version")
    env = coll.get_object(tv["id"], version="first")
    eq(env.get("objects"), [tv["v1"]], "get_object(version=first)")
    env = coll.get_object(tv["id"], version=tv["v1"]["modified"])
    eq(env.get("objects"), [tv["v1"]], "get_object(version=<v1 timestamp>)")
    vers = coll.object_versions(tv["id"])
    got = [server_ts(v, "versions entry") for v in vers.get("versions", [])]
    eq(got, [instant(tv["v1"]["modified"]), instant(tv["v2"]["modified"])], "versions")
    eq(vers.get("more"), False, "versions more")


@test
def incremental_polling_with_added_after():
    # The feed-polling pattern: remember the date_added of the last record seen and ask for
    # what came after it, passing a datetime that taxii2-client renders STIX-style (fraction
    # digits with trailing zeros stripped).
    data = envelope()
    coll = admin_collection()
    ids = ",".join(data["by_id"])
    _, manifest = all_pages(coll.get_manifest, 7, id=ids)
    eq(len(manifest), 25, "manifest records")
    cut = manifest[9]["date_added"]
    after = [m["id"] for m in manifest if instant(m["date_added"]) > instant(cut)]
    dt = datetime.strptime(cut, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    _, items = all_pages(coll.get_objects, 7, id=ids, added_after=dt)
    eq([o["id"] for o in items], after, "objects added after %s, in date_added order" % cut)


@test
def version_filter_compares_instants():
    tv = two_versions()
    coll = admin_collection()
    # v1's modified is 08:00:00.000Z; taxii2-client sends a datetime as 08:00:00Z.
    v1 = datetime(2024, 4, 1, 8, 0, 0, tzinfo=timezone.utc)
    eq(coll.get_object(tv["id"], version=v1).get("objects"), [tv["v1"]], "match[version]=2024-04-01T08:00:00Z")
    v2 = datetime(2024, 4, 2, 9, 30, 0, 250000, tzinfo=timezone.utc)  # sent as ….25Z
    eq(coll.get_object(tv["id"], version=v2).get("objects"), [tv["v2"]], "match[version]=….25Z")
    eq(coll.get_object(tv["id"], version=[v1, v2]).get("objects"), [tv["v1"], tv["v2"]], "two versions")
    eq(coll.get_object(tv["id"], version="2024-04-01T08:00:00.001Z"), {}, "a version that does not exist")


@test
def get_object_unknown():
    expect_http_error(404, admin_collection().get_object, sid("indicator"))


@test
def delete_object():
    t1, t2 = "2024-07-01T00:00:00.000Z", "2024-07-02T00:00:00.000Z"
    oid = sid("tool")
    v1 = {"type": "tool", "spec_version": "2.1", "id": oid, "created": t1, "modified": t1, "name": "to delete"}
    v2 = dict(v1, modified=t2, description="second version")
    coll = admin_collection()
    check_status(coll.add_objects({"objects": [v1, v2]}), 2, 2, what="post to-delete")
    eq(coll.get_object(oid).get("objects"), [v2], "before delete")
    coll.delete_object(oid)  # match[version] defaults to all
    expect_http_error(404, coll.get_object, oid)
    expect_http_error(404, coll.object_versions, oid)
    eq(coll.get_objects(id=oid), {}, "get_objects(id=deleted)")
    eq(coll.get_manifest(id=oid), {}, "manifest(id=deleted)")
    expect_http_error(404, coll.delete_object, oid)


@test
def delete_one_version():
    t1, t2 = "2024-07-03T00:00:00.000Z", "2024-07-04T00:00:00.000Z"
    oid = sid("tool")
    v1 = {"type": "tool", "spec_version": "2.1", "id": oid, "created": t1, "modified": t1, "name": "keep v2"}
    v2 = dict(v1, modified=t2, description="second version")
    coll = admin_collection()
    check_status(coll.add_objects({"objects": [v1, v2]}), 2, 2, what="post")
    coll.delete_object(oid, version=t1)
    eq(coll.get_objects(id=oid, version="all").get("objects"), [v2], "versions left after deleting v1")
    expect_http_error(404, coll.delete_object, oid, version=t1)
    coll.delete_object(oid)
    expect_http_error(404, coll.get_object, oid)


@test
def oversized_envelope_is_413():
    # A client must see the 413, not a reset connection, even though it sends the whole body.
    filler = "x" * 1024
    n = MAX_CONTENT_LENGTH // 1024 + 16
    objs = [{"type": "note", "spec_version": "2.1", "id": sid("note"), "created": "2024-01-01T00:00:00.000Z",
             "modified": "2024-01-01T00:00:00.000Z", "content": filler, "object_refs": [sid("malware")]}
            for _ in range(n // 16)]
    for o in objs:
        o["content"] = filler * 16
    body = json.dumps({"objects": objs})
    check(len(body) > MAX_CONTENT_LENGTH, "test body too small")
    try:
        admin_collection(PUBLIC_URL).add_objects(body)
        raise AssertionError("an envelope of %d bytes (max_content_length %d) was accepted"
                             % (len(body), MAX_CONTENT_LENGTH))
    except HTTPError as e:
        eq(http_status(e), 413, "status")
    except requests.exceptions.ConnectionError as e:
        raise AssertionError("the client got a connection error instead of 413: %s" % e)
    # The server is still fine afterwards.
    eq(admin_collection(PUBLIC_URL).can_read, True, "collection after the 413")


# --- stix2 data store ---# --- stix2 data store ------------------------------------------------------------------------


@test
def stix2_source_get_and_all_versions():
    tv = two_versions()
    src = TAXIICollectionSource(admin_collection())
    obj = src.get(tv["id"])
    check(obj is not None, "TAXIICollectionSource.get returned None")
    eq((obj.id, obj.name), (tv["id"], tv["v2"]["name"]), "get() → latest version")
    eq(instant(stix2.utils.format_datetime(obj.modified)), instant(tv["v2"]["modified"]), "get() modified")
    versions = src.all_versions(tv["id"])
    eq(sorted(v.name for v in versions), [tv["v1"]["name"], tv["v2"]["name"]], "all_versions()")
    eq(src.get(sid("indicator")), None, "get(unknown id)")


@test
def stix2_source_query():
    data = envelope()
    src = TAXIICollectionSource(admin_collection())
    found = src.query([Filter("type", "=", "malware")])
    want = {o["id"] for o in data["objects"] if o["type"] == "malware"}
    got = {o.id for o in found}
    check(want <= got, "query(type=malware) misses %s", sorted(want - got))
    check(all(o.type == "malware" for o in found), "query(type=malware) returned other types")
    # Everything else in the private collection that is malware was added by other tests
    # through the sink (or not at all).
    eq(len(found), len(got), "query results are distinct")


@test
def stix2_sink_add():
    coll = admin_collection()
    sink, src = TAXIICollectionSink(coll), TAXIICollectionSource(coll)
    ind = stix2.v21.Indicator(
        name="Added through TAXIICollectionSink", pattern="[url:value = 'http://sink.example.invalid/']",
        pattern_type="stix", valid_from="2024-08-01T00:00:00Z", indicator_types=["malicious-activity"])
    sink.add(ind)  # posts a STIX bundle
    got = src.get(ind.id)
    check(got is not None, "source.get after sink.add returned None")
    eq(json.loads(got.serialize()), json.loads(ind.serialize()), "round-tripped indicator")
    # A list: one bundle per element.
    mals = [stix2.v21.Malware(name="Sink malware %d" % i, is_family=False) for i in range(2)]
    sink.add(mals)
    for m in mals:
        got = src.get(m.id)
        check(got is not None and got.name == m.name, "sink list element %s not found", m.id)


@test
def stix2_sink_and_source_stix20_objects():
    # STIX 2.0 content (no spec_version on the objects) through the v21 client: a mixed
    # collection then announces both media types.
    coll = admin_collection(PUBLIC_URL)
    sink, src = TAXIICollectionSink(coll), TAXIICollectionSource(coll)
    ind = stix2.v20.Indicator(name="STIX 2.0 indicator", labels=["malicious-activity"],
                              pattern="[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']")
    sink.add(ind)  # a STIX 2.0 bundle (spec_version on the bundle, not on the object)
    got = src.get(ind.id)
    check(got is not None, "source.get of a STIX 2.0 object returned None")
    check("spec_version" not in got, "a STIX 2.0 object came back with spec_version: %s", got)
    eq(json.loads(got.serialize()), json.loads(ind.serialize()), "round-tripped STIX 2.0 indicator")
    man = coll.get_manifest(id=ind.id)
    eq([m.get("media_type") for m in man.get("objects", [])], ["application/stix+json;version=2.0"],
       "manifest media_type of a STIX 2.0 object")
    coll.refresh()
    eq(coll.media_types, ["application/stix+json;version=2.0", STIX21], "media_types of a mixed collection")


# --- access without credentials, wrong credentials, tokens -----------------------------------


@test
def anonymous_reads_public_collection():
    objs = public_objects()
    coll = Collection(PUBLIC_URL)
    eq((coll.can_read, coll.can_write), (True, False), "anonymous can_read/can_write on the public collection")
    pages, items = all_pages(coll.get_objects, 2, id=",".join(o["id"] for o in objs))
    eq([len(p.get("objects", [])) for p in pages], [2, 1], "anonymous page sizes")
    eq(sorted(items, key=lambda o: o["id"]), sorted(objs, key=lambda o: o["id"]), "anonymous objects")
    got = TAXIICollectionSource(coll).get(objs[0]["id"])
    check(got is not None and got.id == objs[0]["id"], "anonymous stix2 get")
    try:
        coll.add_objects({"objects": objs})
        raise AssertionError("anonymous add_objects to a read-only public collection succeeded")
    except AccessError:
        pass  # taxii2-client refuses by itself, since can_write is false
    r = requests.post(PUBLIC_URL + "objects/", data=json.dumps({"objects": objs}),
                      headers={"Accept": T21, "Content-Type": T21}, timeout=HTTP_TIMEOUT)
    eq(r.status_code, 401, "anonymous POST to the public (read-only) collection")


@test
def anonymous_denied_private_collection():
    coll = Collection(PRIVATE_URL)
    resp = expect_http_error(401, coll.get_objects)
    eq(resp.headers.get("Content-Type", "").replace(" ", ""), T21, "401 Content-Type")
    challenges = resp.headers.get("WWW-Authenticate", "")
    check("Bearer" in challenges, "401 without a Bearer challenge: %r", challenges)
    r = requests.get(PRIVATE_URL + "objects/", headers={"Accept": T21}, timeout=HTTP_TIMEOUT)
    eq(r.status_code, 401, "anonymous GET objects/ of the private collection")
    body = r.json()
    eq(body.get("http_status"), "401", "error body http_status")
    expect_http_error(401, lambda: Collection(ROOT_URL + "collections/" + str(uuid.uuid4()) + "/").get_objects())
    expect_http_error(401, lambda: ApiRoot(ROOT_URL).collections)


@test
def wrong_password_is_401():
    for url in (PRIVATE_URL, PUBLIC_URL):
        coll = Collection(url, user="admin", password=PASSWORD + "x")
        expect_http_error(401, coll.get_objects)


@test
def bearer_token():
    r = requests.post(BASE + "/management/auth", json={"username": "admin", "password": PASSWORD},
                      timeout=HTTP_TIMEOUT)
    eq(r.status_code, 200, "POST /management/auth status")
    token = r.json().get("token")
    check(isinstance(token, str) and token.count(".") == 2, "no JWT in %s", r.text[:200])
    data = envelope()
    coll = Collection(PRIVATE_URL, auth=BearerAuth(token))
    eq((coll.can_read, coll.can_write), (True, True), "bearer can_read/can_write")
    pages, items = all_pages(coll.get_objects, 7, id=",".join(data["by_id"]))
    eq(sorted(o["id"] for o in items), sorted(data["by_id"]), "objects read with a bearer token")
    obj = {"type": "malware", "spec_version": "2.1", "id": sid("malware"), "created": "2024-09-01T00:00:00.000Z",
           "modified": "2024-09-01T00:00:00.000Z", "name": "posted with a token", "is_family": False}
    check_status(coll.add_objects({"objects": [obj]}), 1, 1, what="bearer post")
    eq(TAXIICollectionSource(coll).get(obj["id"]).name, obj["name"], "stix2 get with a token")
    expect_http_error(401, Collection(PRIVATE_URL, auth=BearerAuth(token + "x")).get_objects)
    r = requests.post(BASE + "/management/auth", json={"username": "admin", "password": PASSWORD + "x"},
                      timeout=HTTP_TIMEOUT)
    eq(r.status_code, 401, "POST /management/auth with a wrong password")


# --- main ------------------------------------------------------------------------------------


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
