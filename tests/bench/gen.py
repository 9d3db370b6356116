#!/usr/bin/env python3
"""Benchmark data for taxiid, as PostgreSQL COPY text on stdout.

  gen.py stix2 N COLLECTION_UUID   N rows of opentaxii_stixobject: STIX 2.1 indicators (60 %),
                                   malware (20 %) and relationships (20 %) of 0.6-1.5 KB; every
                                   7th object has 3 versions and the next one 2. Prints the
                                   number of objects to stderr.
  gen.py package                   one such package, for the Inbox scenario.
  gen.py stix1 N                   N rows of content_blocks (ids 1..N): STIX 1.1.1 packages of
                                   ~2 KB, Timestamp_Labels one second apart from T1_BASE.

Ids are a function of the object number k, so the wrk scripts and the pgbench ceilings can
name random existing objects without a lookup (see object_id, also in lua/common.lua and
ceiling/object.sql).
"""

import sys
from datetime import datetime, timedelta, timezone

T2_CREATED = datetime(2023, 1, 1, tzinfo=timezone.utc)
T2_ADDED = datetime(2024, 1, 1)
T1_BASE = datetime(2024, 1, 1, tzinfo=timezone.utc)
MASK48 = (1 << 48) - 1


def object_type(k):
    t = k % 10
    return "indicator" if t < 6 else "malware" if t < 8 else "relationship"


def object_id(k):
    return "%s--%08x-0000-4000-8000-%012x" % (object_type(k), k, (k * 2654435761) & MASK48)


def versions(k):
    return 3 if k % 7 == 0 else 2 if k % 7 == 1 else 1


def stix_time(t):
    return "%04d-%02d-%02dT%02d:%02d:%02d.000Z" % (t.year, t.month, t.day, t.hour, t.minute, t.second)


WORDS = (
    "campaign infrastructure observed delivering payloads through compromised websites "
    "phishing attachments credential harvesting lateral movement command and control beacon "
    "exfiltration staging server loader dropper persistence registry scheduled task "
).split()


def _text():
    out, i = [], 1
    while sum(len(w) + 1 for w in out) < 8192:
        out.append(WORDS[i % len(WORDS)])
        i = i * 1103515245 + 12345 & 0x7FFFFFFF
    return " ".join(out)


TEXT = _text()


def prose(k, n):
    start = (k * 7919) % (len(TEXT) - n)
    return TEXT[start : start + n].strip()


IDENTITY = "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff"
MARKING = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
PHASES = ["initial-access", "execution", "persistence", "command-and-control", "exfiltration"]


def body(k, version):
    """serialized_data: the object minus id, type and spec_version, as OpenTAXII stores it."""
    created = T2_CREATED + timedelta(seconds=k)
    modified = created + timedelta(days=version)
    kind = object_type(k)
    desc = prose(k, 130 + (k * 37) % 620)
    head = '{"created":"%s","modified":"%s","created_by_ref":"%s",' % (
        stix_time(created),
        stix_time(modified),
        IDENTITY,
    )
    tail = ',"object_marking_refs":["%s"]}' % MARKING
    phase = '"kill_chain_phases":[{"kill_chain_name":"mitre-attack","phase_name":"%s"}]' % PHASES[k % 5]
    if kind == "indicator":
        mid = (
            '"name":"Malicious URL %d","description":"%s","indicator_types":["malicious-activity"],'
            '"pattern":"[url:value = \'http://h%x.example.net/%d/load.php\']","pattern_type":"stix",'
            '"pattern_version":"2.1","valid_from":"%s",%s,"confidence":%d,"labels":["phishing"],'
            '"external_references":[{"source_name":"partner-feed","external_id":"PF-%d"}]'
        ) % (k, desc, k, version, stix_time(created), phase, 50 + k % 50, k)
    elif kind == "malware":
        mid = (
            '"name":"Loader family %d","description":"%s","malware_types":["dropper","backdoor"],'
            '"is_family":true,"aliases":["LDR-%d","ShadowFetch-%d"],%s,"first_seen":"%s"'
        ) % (k, desc, k, k % 97, phase, stix_time(created))
    else:
        mid = (
            '"relationship_type":"indicates","source_ref":"%s","target_ref":"%s","description":"%s"'
        ) % (object_id(k - k % 10), object_id(k - k % 10 + 6), desc)
    return head + mid + tail


def stix2(n, collection):
    out = sys.stdout
    row = k = 0
    while row < n:
        for v in range(versions(k)):
            if row == n:
                break
            added = T2_ADDED + timedelta(seconds=row)
            version = T2_CREATED + timedelta(seconds=k, days=v)
            pk = "%08x-0000-4000-9000-%012x" % (row, (row * 40503) & MASK48)
            data = body(k, v).replace("\\", "\\\\")
            out.write(
                "%s\t%s\t%s\t%s\t2.1\t%s\t%s\t%s\n"
                % (pk, object_id(k), collection, object_type(k), added, version.replace(tzinfo=None), data)
            )
            row += 1
        k += 1
    print(k, file=sys.stderr)


PACKAGE = """<stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1" \
xmlns:indicator="http://stix.mitre.org/Indicator-2" xmlns:cybox="http://cybox.mitre.org/cybox-2" \
xmlns:URIObj="http://cybox.mitre.org/objects#URIObject-2" xmlns:stixCommon="http://stix.mitre.org/common-1" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:example="http://example.com" \
id="example:Package-%(u)s" version="1.1.1" timestamp="%(ts)s">
  <stix:STIX_Header>
    <stix:Title>Partner feed package %(i)d</stix:Title>
    <stix:Package_Intent xsi:type="stixVocabs:PackageIntentVocab-1.0">Indicators - Watchlist</stix:Package_Intent>
    <stix:Description>%(desc)s</stix:Description>
  </stix:STIX_Header>
  <stix:Indicators>
    <stix:Indicator xsi:type="indicator:IndicatorType" id="example:Indicator-%(u)s" timestamp="%(ts)s">
      <indicator:Title>Malicious URL %(i)d</indicator:Title>
      <indicator:Type xsi:type="stixVocabs:IndicatorTypeVocab-1.1">URL Watchlist</indicator:Type>
      <indicator:Description>%(desc2)s</indicator:Description>
      <indicator:Observable id="example:Observable-%(u)s">
        <cybox:Object id="example:URI-%(u)s">
          <cybox:Properties xsi:type="URIObj:URIObjectType" type="URL">
            <URIObj:Value condition="Equals">http://h%(i)x.example.net/%(i)d/gate.php</URIObj:Value>
          </cybox:Properties>
        </cybox:Object>
      </indicator:Observable>
      <indicator:Confidence timestamp="%(ts)s">
        <stixCommon:Value xsi:type="stixVocabs:HighMediumLowVocab-1.0">High</stixCommon:Value>
      </indicator:Confidence>
      <indicator:Producer>
        <stixCommon:Identity><stixCommon:Name>Partner CERT</stixCommon:Name></stixCommon:Identity>
      </indicator:Producer>
    </stix:Indicator>
  </stix:Indicators>
</stix:STIX_Package>"""


def package(i, label):
    return PACKAGE % {
        "u": "%08x-0000-4000-a000-%012x" % (i, (i * 2654435761) & MASK48),
        "ts": label.isoformat(),
        "i": i,
        "desc": prose(i, 300 + i % 200),
        "desc2": prose(i * 7, 200 + i % 150),
    }


def stix1(n):
    out = sys.stdout
    for i in range(1, n + 1):
        label = T1_BASE + timedelta(seconds=i)
        xml = package(i, label)
        out.write(
            "%d\t%s\t\\N\t%s\t\\N\t\\\\x%s\turn:stix.mitre.org:xml:1.1.1\t\\N\n"
            % (i, label.isoformat(), label.isoformat(), xml.encode().hex())
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "stix2":
        stix2(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 2 and sys.argv[1] == "package":
        print(package(0, datetime.now(timezone.utc).replace(microsecond=0)))
    elif len(sys.argv) == 3 and sys.argv[1] == "stix1":
        stix1(int(sys.argv[2]))
    else:
        sys.exit(__doc__)
