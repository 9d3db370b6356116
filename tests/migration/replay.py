"""Whole-protocol comparison with OpenTAXII (TAXII 1.x checklist, T46).

  replay BASE OUT     send the scripted request set to BASE (built with libtaxii; result and
                      subscription ids from earlier answers fed into later requests) and write
                      every answer, parsed by libtaxii and masked, to OUT (JSON)
  diff A B            compare two replays; prints each difference, exits 1 on one that is not
                      a deliberate deviation listed in DEVIATIONS

run-opentaxii-proof replays against OpenTAXII 0.9.3 and then against taxiid on the same
database. Masked: message ids, result and subscription ids, timestamps the server makes up
("now"), host:port in addresses; content is compared by its exclusive C14N (OpenTAXII
re-serialises XML content). Namespace prefixes and attribute order vanish in the parse.
Only the loopback interface is ever contacted.
"""

import hashlib
import json
import sys

import libtaxii.messages_10 as tm10
import libtaxii.messages_11 as tm11
from libtaxii.constants import (
    ACT_PAUSE,
    ACT_RESUME,
    ACT_STATUS,
    ACT_SUBSCRIBE,
    ACT_UNSUBSCRIBE,
    CB_STIX_XML_111,
    RT_COUNT_ONLY,
    RT_FULL,
)

from proof import canonical, http

V11 = {"ct": "urn:taxii.mitre.org:message:xml:1.1", "services": "urn:taxii.mitre.org:services:1.1", "tm": tm11}
V10 = {"ct": "urn:taxii.mitre.org:message:xml:1.0", "services": "urn:taxii.mitre.org:services:1.0", "tm": tm10}

PACKAGE = '<stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1" id="example:Package-r" version="1.1.1"/>'

# Where taxiid answers differently on purpose (README, "TAXII 1.0 and 1.1"; the checklist's Q
# table): request name -> (the members of the answer allowed to differ, or None for the whole
# answer; why). Everything else in such an answer must still be the same.
EXTRA_MESSAGE = "taxiid adds a human-readable Message where OpenTAXII sends none"
END_LABEL = "Q7: a feed's Poll_Response carries Inclusive_End_Timestamp (spec MUST), OpenTAXII omits it"
DEVIATIONS = {
    "poll feed-a part 1": (["inclusive_end_timestamp_label"], END_LABEL),
    "poll feed-a part 2": (["inclusive_end_timestamp_label"], END_LABEL),
    "poll feed-a STIX 1.1.1 only": (["inclusive_end_timestamp_label"], END_LABEL),
    "poll-auth reader": (["inclusive_end_timestamp_label"], END_LABEL),
    "poll stix12-feed count only": (
        ["inclusive_end_timestamp_label", "more", "result_id"],
        "Q20: COUNT_ONLY answers say more=false and offer no result set (OpenTAXII's leaks content "
        "from part 2 on); and Q7",
    ),
    "poll feed-a part 9 (no such part)": (
        None,
        "Q9: a part past the last is INVALID_RESPONSE_PART with MAX_PART_NUMBER (more is exact); "
        "OpenTAXII answers an empty part",
    ),
    "poll 1.0 set-b": (None, "TAXII 1.0 poll of a Data Set: NOT_FOUND with a Message; OpenTAXII: HTML 500"),
    "inbox-strict to no such collection": (
        ["extended_headers", "status_detail"],
        "Q10: ITEM in Status_Detail, where the spec puts it; OpenTAXII puts it in Extended_Headers",
    ),
    "inbox-strict unsupported binding": (["message"], "SUCCESS says how many blocks were stored"),
    "malformed XML": (["message"], "the BAD_MESSAGE Message says where the XML is broken"),
    "poll-auth anonymous": (["message"], EXTRA_MESSAGE),
    "poll-auth wrong password": (["message"], EXTRA_MESSAGE),
    "inbox-auth anonymous": (["message"], EXTRA_MESSAGE),
    "subscription STATUS of no such id": (["message"], EXTRA_MESSAGE),
}

# Keys whose values the server makes up per request.
MASKED = {
    "message_id",
    "result_id",
    "subscription_id",
    "timestamp_label",
    "inclusive_end_timestamp_label",
    "exclusive_begin_timestamp_label",
    "inclusive_begin_timestamp_label",
    "inclusive_end_timestamp",
}


def send(base, path, version, msg, headers=None):
    hdrs = {
        "Content-Type": "application/xml",
        "Accept": "application/xml",
        "X-TAXII-Content-Type": version["ct"],
        "X-TAXII-Services": version["services"],
        "X-TAXII-Protocol": "urn:taxii.mitre.org:protocol:http:1.0",
        "X-TAXII-Accept": version["ct"],
    }
    hdrs.update(headers or {})
    body = msg if isinstance(msg, bytes) else msg.to_xml()
    status, answer = http("POST", base + path, body, hdrs)
    try:
        parsed = version["tm"].get_message_from_xml(answer)
    except Exception:  # noqa: BLE001 - OpenTAXII's HTML 500 pages are answers too
        return {"http": status, "unparsed": hashlib.sha256(answer).hexdigest()}, None
    return {"http": status, "message": mask(parsed.to_dict())}, parsed


def mask(value, key=None):
    if isinstance(value, dict):
        return {k: mask(v, k) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if key in MASKED and value is not None:
        return "<masked>"
    if key == "content" and isinstance(value, (str, bytes)):
        raw = value.encode() if isinstance(value, str) else value
        return "c14n:" + hashlib.sha256(canonical(raw)).hexdigest()
    if key == "address" and isinstance(value, str) and "://" in value:
        return value.split("://", 1)[0] + "://<host>/" + value.split("://", 1)[1].split("/", 1)[-1]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return mask(value.to_dict())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def replay(base):
    out = {}
    mid = iter(range(1000, 2000))

    def ask(name, path, version, msg, headers=None):
        out[name], parsed = send(base, path, version, msg, headers)
        return parsed

    def params(**kw):
        return tm11.PollRequest.PollParameters(**kw)

    ask("discovery 1.1", "/services/discovery", V11, tm11.DiscoveryRequest(str(next(mid))))
    ask("discovery 1.0", "/services/discovery", V10, tm10.DiscoveryRequest(str(next(mid))))
    ask("collections 1.1", "/services/collection-management", V11,
        tm11.CollectionInformationRequest(str(next(mid))))
    ask("feeds 1.0", "/services/collection-management", V10, tm10.FeedInformationRequest(str(next(mid))))
    ask("collections 1.1 as admin", "/services/collection-management", V11,
        tm11.CollectionInformationRequest(str(next(mid))), basic("admin", "admin"))

    first = ask("poll feed-a part 1", "/services/poll", V11,
                tm11.PollRequest(str(next(mid)), collection_name="feed-a", poll_parameters=params()))
    if first is not None and getattr(first, "result_id", None):
        ask("poll feed-a part 2", "/services/poll", V11,
            tm11.PollFulfillmentRequest(str(next(mid)), collection_name="feed-a",
                                        result_id=first.result_id, result_part_number=2))
        ask("poll feed-a part 9 (no such part)", "/services/poll", V11,
            tm11.PollFulfillmentRequest(str(next(mid)), collection_name="feed-a",
                                        result_id=first.result_id, result_part_number=9))
    ask("poll set-b", "/services/poll", V11,
        tm11.PollRequest(str(next(mid)), collection_name="set-b", poll_parameters=params()))
    ask("poll stix12-feed count only", "/services/poll", V11,
        tm11.PollRequest(str(next(mid)), collection_name="stix12-feed",
                         poll_parameters=params(response_type=RT_COUNT_ONLY)))
    ask("poll feed-a STIX 1.1.1 only", "/services/poll", V11,
        tm11.PollRequest(str(next(mid)), collection_name="feed-a",
                         poll_parameters=params(content_bindings=[tm11.ContentBinding(CB_STIX_XML_111)])))
    ask("poll disabled", "/services/poll", V11,
        tm11.PollRequest(str(next(mid)), collection_name="disabled", poll_parameters=params()))
    ask("poll no such collection", "/services/poll", V11,
        tm11.PollRequest(str(next(mid)), collection_name="no-such", poll_parameters=params()))
    ask("poll-auth anonymous", "/services/poll-auth", V11,
        tm11.PollRequest(str(next(mid)), collection_name="feed-a", poll_parameters=params()))
    ask("poll-auth reader", "/services/poll-auth", V11,
        tm11.PollRequest(str(next(mid)), collection_name="feed-a", poll_parameters=params()),
        basic("reader", "reader"))
    ask("poll-auth wrong password", "/services/poll-auth", V11,
        tm11.PollRequest(str(next(mid)), collection_name="feed-a", poll_parameters=params()),
        basic("reader", "wrong"))
    ask("poll 1.0 set-b", "/services/poll", V10, tm10.PollRequest(str(next(mid)), feed_name="set-b"))

    block = tm11.ContentBlock(content_binding=CB_STIX_XML_111, content=PACKAGE)
    ask("inbox-strict to no such collection", "/services/inbox-strict", V11,
        tm11.InboxMessage(str(next(mid)), destination_collection_names=["no-such"], content_blocks=[block]))
    ask("inbox-strict without destination", "/services/inbox-strict", V11,
        tm11.InboxMessage(str(next(mid)), content_blocks=[block]))
    ask("inbox-strict unsupported binding", "/services/inbox-strict", V11,
        tm11.InboxMessage(str(next(mid)), destination_collection_names=["feed-a"],
                          content_blocks=[tm11.ContentBlock(content_binding="urn:example:other", content="x")]))
    ask("inbox-auth anonymous", "/services/inbox-auth", V11,
        tm11.InboxMessage(str(next(mid)), destination_collection_names=["feed-a"], content_blocks=[block]))

    sub = ask("subscribe feed-a", "/services/collection-management", V11,
              tm11.ManageCollectionSubscriptionRequest(
                  str(next(mid)), collection_name="feed-a", action=ACT_SUBSCRIBE,
                  subscription_parameters=tm11.SubscriptionParameters(response_type=RT_FULL)))
    sid = sub.subscription_instances[0].subscription_id if sub is not None and getattr(
        sub, "subscription_instances", None) else "none"
    for action in (ACT_STATUS, ACT_PAUSE, ACT_RESUME, ACT_UNSUBSCRIBE):
        ask(f"subscription {action}", "/services/collection-management", V11,
            tm11.ManageCollectionSubscriptionRequest(str(next(mid)), collection_name="feed-a",
                                                     action=action, subscription_id=sid))
    ask("subscription STATUS of no such id", "/services/collection-management", V11,
        tm11.ManageCollectionSubscriptionRequest(str(next(mid)), collection_name="feed-a",
                                                 action=ACT_STATUS, subscription_id="12345"))

    ask("malformed XML", "/services/discovery", V11, b"<taxii_11:Discovery_Request")
    ask("discovery request to the poll service", "/services/poll", V11, tm11.DiscoveryRequest(str(next(mid))))
    return out


def basic(user, password):
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def without(answer, keys):
    """The answer with `keys` dropped from its message."""
    if not isinstance(answer, dict) or not isinstance(answer.get("message"), dict):
        return answer
    return {**answer, "message": {k: v for k, v in answer["message"].items() if k not in keys}}


def diff(a, b):
    unexpected = 0
    for name in list(dict.fromkeys([*a, *b])):
        x, y = a.get(name), b.get(name)
        if x == y:
            print(f"same: {name}")
            continue
        keys, reason = DEVIATIONS.get(name, ([], None))
        if reason is not None and keys is not None and without(x, keys) != without(y, keys):
            reason = None  # something beyond the deliberate difference differs
        print(f"{'deviation' if reason else 'DIFFERENT'}: {name}" + (f" ({reason})" if reason else ""))
        for line in json.dumps(x, indent=1, sort_keys=True).splitlines():
            print("  - " + line)
        for line in json.dumps(y, indent=1, sort_keys=True).splitlines():
            print("  + " + line)
        unexpected += 0 if reason else 1
    print(f"{unexpected} unexpected difference(s)")
    return 1 if unexpected else 0


def main(argv):
    if argv[1] == "replay":
        with open(argv[3], "w") as f:
            json.dump(replay(argv[2]), f, indent=1, sort_keys=True)
        return 0
    if argv[1] == "diff":
        with open(argv[2]) as f, open(argv[3]) as g:
            return diff(json.load(f), json.load(g))
    raise SystemExit(f"unknown command {argv[1]}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
