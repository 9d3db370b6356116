#!/usr/bin/env python3
"""Tables from tests/bench/run's measurements.

  report.py summary RESULTS.jsonl   markdown: throughput and ratio to the ceiling per scenario,
                                    latency as work grows, memory and start, the targets
  report.py plans SIZE < pg.log     the auto_explain entries of a PostgreSQL log, by
                                    scenario
"""

import json
import re
import statistics
import sys
from collections import defaultdict

NAMES = {
    "a_first_page": "(a) objects, first page, limit=100",
    "b_last_page_next": "(b) objects, last page via next",
    "b_last_page_added_after": "(b) objects, last page via added_after",
    "c_object": "(c) object by id",
    "d_manifest": "(d) manifest, limit=100",
    "e_post_100": "(e) POST 100 objects (objects/s)",
    "e_post_1000": "(e) POST 1000 objects (objects/s)",
    "f_poll": "(f) TAXII 1.1 poll, 100 blocks",
    "g_inbox": "(g) TAXII 1.1 inbox, 1 block",
    "h_object_basic": "(h) object by id, HTTP Basic",
    "i_discovery": "(i) discovery",
}
SIZES = {"10k": 1e4, "100k": 1e5, "1m": 1e6}
PER = {"e_post_100": 100, "e_post_1000": 1000}


def load(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    runs = defaultdict(list)
    extra = defaultdict(dict)
    for r in rows:
        if r["scenario"] in ("memory", "start", "binary"):
            target = extra[r["size"] if r["scenario"] == "memory" else "all"]
            peak = max(target.get("pages_peak_rss_kib", 0), r.get("pages_peak_rss_kib", 0))
            target.update(r)
            target["pages_peak_rss_kib"] = peak
        else:
            runs[(r["size"], r["scenario"], r["conns"], r["side"])].append(r)
    return runs, extra


def med(runs, key, field="rps"):
    vals = [r[field] for r in runs.get(key, []) if field in r]
    return statistics.median(vals) if vals else None


def rate(runs, size, scenario, conns, side):
    v = med(runs, (size, scenario, conns, side))
    return v * PER.get(scenario, 1) if v is not None else None


def fmt(v, digits=0):
    return "–" if v is None else f"{v:,.{digits}f}"


def summary(path):
    runs, extra = load(path)
    sizes = sorted({k[0] for k in runs}, key=lambda s: SIZES.get(s, 0))
    conns = sorted({k[2] for k in runs})
    out = []
    for size in sizes:
        out.append(f"### {size} objects\n")
        out.append("| scenario | " + " | ".join(f"{c} conn" for c in conns) + " |")
        out.append("|---" * (len(conns) + 1) + "|")
        for scenario in NAMES:
            if not any((size, scenario, c, "taxiid") in runs for c in conns):
                continue
            cells = []
            for c in conns:
                t = rate(runs, size, scenario, c, "taxiid")
                ceil = rate(runs, size, scenario, c, "ceiling")
                p50 = med(runs, (size, scenario, c, "taxiid"), "p50_ms")
                cell = f"{fmt(t)}/s"
                if ceil:
                    cell += f" ÷ {fmt(ceil)} = **{t / ceil:.2f}**"
                cell += f", p50 {fmt(p50, 2)} ms"
                cells.append(cell)
            out.append(f"| {NAMES[scenario]} | " + " | ".join(cells) + " |")
        out.append("")
    out.append("### Latency as work grows (p50 ms, 1 connection / 32 connections)\n")
    grow = ["a_first_page", "b_last_page_next", "b_last_page_added_after", "c_object", "f_poll"]
    out.append("| scenario | " + " | ".join(sizes) + " |")
    out.append("|---" * (len(sizes) + 1) + "|")
    for scenario in grow:
        cells = []
        for size in sizes:
            one = med(runs, (size, scenario, 1, "taxiid"), "p50_ms")
            many = med(runs, (size, scenario, 32, "taxiid"), "p50_ms")
            cells.append(f"{fmt(one, 2)} / {fmt(many, 2)}")
        out.append(f"| {NAMES[scenario]} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("### Memory and start\n")
    out.append("| | " + " | ".join(sizes) + " |")
    out.append("|---" * (len(sizes) + 1) + "|")
    for label, field in [
        ("idle RSS after start", "idle_rss_kib"),
        (f"peak RSS serving 100-object pages to {max(conns)} connections", "pages_peak_rss_kib"),
        ("peak RSS over all reads (includes one scrypt check for Basic: 32 MiB)", "reads_peak_rss_kib"),
        ("peak RSS over the whole run (with 1000-object POSTs)", "peak_rss_kib"),
    ]:
        cells = [fmt(extra[s].get(field, 0) / 1024, 1) + " MB" for s in sizes]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    a = extra["all"]
    out.append("")
    out.append(f"Binary: {fmt(a.get('bytes', 0) / 1e6, 1)} MB. Exec to /management/ready = 200: "
               f"{a.get('start_ms', '–')} ms (median of {len(a.get('all_ms', []))}).\n")
    out.append(targets(runs, extra, sizes))
    print("\n".join(out))


def targets(runs, extra, sizes):
    rows = []

    def ratio(size, scenario, c=32):
        t, ceil = rate(runs, size, scenario, c, "taxiid"), rate(runs, size, scenario, c, "ceiling")
        return t / ceil if t and ceil else None

    def add(name, value, limit, lower_is_better=False, unit=""):
        if value is None:
            rows.append(f"| {name} | – | {limit}{unit} | not measured |")
            return
        ok = value <= limit if lower_is_better else value >= limit
        rows.append(f"| {name} | {value:.2f}{unit} | {'≤' if lower_is_better else '≥'} {limit}{unit} | "
                    f"{'met' if ok else 'NOT MET'} |")

    for size in [s for s in ("100k", "1m") if s in sizes]:
        add(f"(a) first page ÷ ceiling, 32 conn, {size}", ratio(size, "a_first_page"), 0.5)
        add(f"(c) object by id ÷ ceiling, 32 conn, {size}", ratio(size, "c_object"), 0.3)
        add(f"(e) 1000-object POST ÷ ceiling, 32 conn, {size}", ratio(size, "e_post_1000"), 0.5)
        add(f"(f) poll ÷ ceiling, 32 conn, {size}", ratio(size, "f_poll"), 0.5)
        basic, bearer = rate(runs, size, "h_object_basic", 32, "taxiid"), rate(runs, size, "c_object", 32, "taxiid")
        add(f"(h) Basic ÷ bearer, 32 conn, {size}", basic / bearer if basic and bearer else None, 0.9)
    big, small = ("1m", "10k") if "1m" in sizes else (sizes[-1], sizes[0])
    for c in (1, 32):
        a_big = med(runs, (big, "a_first_page", c, "taxiid"), "p50_ms")
        b_big = med(runs, (big, "b_last_page_next", c, "taxiid"), "p50_ms")
        a_small = med(runs, (small, "a_first_page", c, "taxiid"), "p50_ms")
        add(f"(b) p50 last page via next ÷ first page, {big}, {c} conn",
            b_big / a_big if a_big and b_big else None, 1.3, True)
        add(f"(a) p50 first page {big} ÷ {small}, {c} conn",
            a_big / a_small if a_big and a_small else None, 1.3, True)
    idle = max((extra[s].get("idle_rss_kib", 0) for s in sizes), default=0) / 1024
    peak = max((extra[s].get("pages_peak_rss_kib", 0) for s in sizes), default=0) / 1024
    add("idle RSS", idle, 8, True, " MB")
    add("peak RSS, most connections, 100-object pages", peak, 64, True, " MB")
    start = extra["all"].get("start_ms")
    add("exec → ready", start, 100, True, " ms")
    head = "### Targets\n\n| target | measured | goal | |\n|---|---|---|---|"
    return head + "\n" + "\n".join(rows) + "\n"


BIG_TABLES = ("opentaxii_stixobject", "content_blocks", "collection_to_content_block", "opentaxii_job_detail")


def plans(text, size):
    """auto_explain entries (log_format json, log_analyze) of a PostgreSQL log, grouped by the
    `SELECT 'bench scenario: …'` markers before them: each statement once per scenario with
    the plan it ran and its actual row counts, then the sequential scans of big tables."""
    entries, current = {}, None
    for line in text.splitlines():
        if re.search(r"LOG:\s+duration: [0-9.]+ ms\s+plan:", line):
            if current:
                add_plan(entries, current)
            current = []
        elif current is not None and line.startswith("\t"):
            current.append(line[1:])
        elif current is not None:
            add_plan(entries, current)
            current = None
    if current:
        add_plan(entries, current)
    print(f"# The plans PostgreSQL ran for taxiid's statements, {size} objects (tests/bench/run,")
    print("# auto_explain with actual row counts; prepared statements, generic plans).\n")
    warnings, last = [], None
    for (scenario, query), plan in entries.items():
        if scenario != last:
            print(f"## {scenario}\n")
            last = scenario
        print("-- " + query)
        for depth, node in walk(plan):
            print("   " + "  " * depth + describe(node))
            if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in BIG_TABLES:
                warnings.append(f"{node['Relation Name']} in: {query[:100]}")
        print()
    print("Sequential scans of big tables: " + ("; ".join(warnings) if warnings else "none"))


SCENARIO = ["(before the scenarios)"]


def add_plan(entries, lines):
    try:
        doc = json.loads("\n".join(lines))
    except ValueError:
        return
    query = " ".join(doc.get("Query Text", "").split())
    marker = re.match(r"SELECT 'bench scenario: (.*)'", query)
    if marker:
        SCENARIO[0] = marker.group(1)
    elif query and not query.upper().startswith(("SET ", "ALTER ", "SELECT PG_RELOAD_CONF")):
        if SCENARIO[0] != "end":
            entries[(SCENARIO[0], query)] = doc["Plan"]


def walk(node, depth=0):
    yield depth, node
    for child in node.get("Plans", []):
        yield from walk(child, depth + 1)


def describe(node):
    kind = node.get("Node Type", "?")
    if node.get("Index Name"):
        kind += f" using {node['Index Name']}"
    if node.get("Relation Name"):
        kind += f" on {node['Relation Name']}"
    if node.get("Subplan Name"):
        kind = f"{node['Subplan Name']}: {kind}"
    parts = [kind, f"(rows={node.get('Actual Rows', '?')} loops={node.get('Actual Loops', '?')})"]
    for key in ("Index Cond", "Recheck Cond", "Filter", "Join Filter", "One-Time Filter", "Sort Key",
                "Presorted Key"):
        if key in node:
            value = node[key] if isinstance(node[key], str) else ", ".join(node[key])
            parts.append(f"{key}: {value}")
    return "  ".join(parts)


if __name__ == "__main__":
    if sys.argv[1:2] == ["summary"]:
        summary(sys.argv[2])
    elif sys.argv[1:2] == ["plans"]:
        plans(sys.stdin.read(), sys.argv[2])
    else:
        sys.exit(__doc__)
