"""Turns the JSON lines written by bench/s3.sh into Markdown tables (medians over the runs).

    python3 bench/report_s3.py RESULTS.jsonl META.json

Each line is a berth-loadgen output plus "group" (s3, metadata, nodes), "variant" (proxied, redirected,
killed NODE or -), "side" (berth, distribution, berth-postgres, berth-sqlite, lb-N, lb-kill), "run", and the
CPU seconds the side's servers ("server_cpu_s") and the S3 server ("s3_cpu_s") used during it.
"""

import json
import statistics
import sys

GIB = 1024**3


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def pick(results, group, side, metric, variant="-"):
    return [r for r in results if r["group"] == group and r["side"] == side and r["metric"] == metric
            and r["variant"] == variant]


def med(rows, field):
    vals = [r[field] for r in rows if field in r]
    return statistics.median(vals) if vals else None


def cpu(rows, field="server_cpu_s"):
    """CPU seconds per GiB moved (large blobs) or microseconds per operation."""
    vals = []
    for r in rows:
        if field not in r:
            continue
        if r["metric"].startswith(("push_", "pull_")):
            vals.append(r[field] / (r["bytes"] / GIB))
        elif r["metric"] == "small_blobs":
            vals.append(r[field] / r["count"] * 1e6)
        elif r["metric"] == "manifest_get":
            vals.append(r[field] / r["requests"] * 1e6)
    return statistics.median(vals) if vals else None


def fmt(v, digits=3):
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}g}"


def ratio(a, b):
    return fmt(a / b, 3) if a is not None and b not in (None, 0) else "n/a"


def s3_table(results, p):
    rows = [
        ("push_monolithic", "-", "mib_s", f"{p['blob']} push, monolithic (POST + one PUT)", "MiB/s", "s/GiB"),
        ("push_chunked", "-", "mib_s", f"{p['blob']} push, chunked ({p['chunk']} PATCHes + PUT)", "MiB/s", "s/GiB"),
        ("pull_full", "proxied", "mib_s", f"{p['blob']} pull, one GET, proxied by the registry", "MiB/s", "s/GiB"),
        ("pull_full", "redirected", "mib_s", f"{p['blob']} pull, one GET, 307 to a presigned S3 URL", "MiB/s",
         "s/GiB"),
        ("small_blobs", "-", "ops_s", f"{p['count']} x 4 KiB pushes, {p['conc']} clients", "ops/s", "µs/op"),
        ("small_blobs", "-", "p99_ms", "  small push p99", "ms", None),
        ("manifest_get", "-", "req_s", f"manifest GET by tag, {p['conns']} connections, {p['dur']}", "req/s",
         "µs/op"),
        ("manifest_get", "-", "p99_ms", "  manifest GET p99", "ms", None),
    ]
    out = ["| | berth | Distribution | berth/Distribution | berth CPU | Distribution CPU | S3 server CPU "
           "(berth / Distribution) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for metric, variant, field, label, unit, cpu_unit in rows:
        b, d = pick(results, "s3", "berth", metric, variant), pick(results, "s3", "distribution", metric, variant)
        if not b and not d:
            continue
        bv, dv = med(b, field), med(d, field)
        better_low = field.endswith("_ms")
        r = ratio(dv, bv) if better_low else ratio(bv, dv)
        if cpu_unit:
            cells = (f"{fmt(cpu(b))} {cpu_unit}", f"{fmt(cpu(d))} {cpu_unit}",
                     f"{fmt(cpu(b, 's3_cpu_s'))} / {fmt(cpu(d, 's3_cpu_s'))} {cpu_unit}")
        else:
            cells = ("", "", "")
        out.append(f"| {label}, {unit} | {fmt(bv)} | {fmt(dv)} | {r}{' (inverse)' if better_low else ''} | "
                   + " | ".join(cells) + " |")
    peaks = {s: max((r["mib"] for r in pick(results, "s3", s, "peak_rss")), default=None)
             for s in ("berth", "distribution")}
    if any(v is not None for v in peaks.values()):
        out.append(f"| peak RSS (VmHWM, highest of both starts), MiB | {fmt(peaks['berth'])} | "
                   f"{fmt(peaks['distribution'])} | {ratio(peaks['distribution'], peaks['berth'])} (inverse) | | | |")
    return out


def metadata_table(results, p):
    out = ["| | berth on PostgreSQL | berth on SQLite | PostgreSQL/SQLite | CPU, berth + PostgreSQL | CPU, berth |",
           "|---|---:|---:|---:|---:|---:|"]
    for metric, field, label, unit in [
        ("small_blobs", "ops_s", f"{p['count']} x 4 KiB pushes, {p['conc']} clients", "ops/s"),
        ("small_blobs", "p99_ms", "  small push p99", "ms"),
        ("manifest_get", "req_s", f"manifest GET by tag, {p['conns']} connections", "req/s"),
        ("manifest_get", "p99_ms", "  manifest GET p99", "ms"),
    ]:
        pg, sq = pick(results, "metadata", "berth-postgres", metric), pick(results, "metadata", "berth-sqlite", metric)
        if not pg and not sq:
            continue
        cells = ("", "") if field.endswith("_ms") else (f"{fmt(cpu(pg))} µs/op", f"{fmt(cpu(sq))} µs/op")
        out.append(f"| {label}, {unit} | {fmt(med(pg, field))} | {fmt(med(sq, field))} | "
                   f"{ratio(med(pg, field), med(sq, field))} | {cells[0]} | {cells[1]} |")
    peaks = [max((r["mib"] for r in pick(results, "metadata", s, "peak_rss")), default=None)
             for s in ("berth-postgres", "berth-sqlite")]
    if any(v is not None for v in peaks):
        out.append(f"| berth peak RSS, MiB | {fmt(peaks[0])} | {fmt(peaks[1])} | {ratio(*peaks)} | | |")
    return out


def nodes_table(results, p):
    out = ["| behind HAProxy | 4 KiB pushes, ops/s | p99, ms | errors | manifest GETs, req/s | p99, ms | errors | "
           "CPU per push / per GET (nodes + PostgreSQL), µs |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    sides = sorted({r["side"] for r in results if r["group"] == "nodes"})
    for side in [s for s in sides if s.startswith("lb-") and s != "lb-kill"] + ["lb-kill"]:
        variants = sorted({r["variant"] for r in results if r["group"] == "nodes" and r["side"] == side})
        for variant in variants:
            sm, mg = pick(results, "nodes", side, "small_blobs", variant), pick(results, "nodes", side,
                                                                                    "manifest_get", variant)
            if not sm and not mg:
                continue
            label = f"{side[3:]} node(s)" if side != "lb-kill" else f"3 nodes, {variant} halfway (one run)"
            errors_small = med(sm, "errors")
            out.append(f"| {label} | {fmt(med(sm, 'ops_s'))} | {fmt(med(sm, 'p99_ms'))} | "
                       f"{fmt(errors_small) if errors_small is not None else 'n/a'} of {p['count']} | "
                       f"{fmt(med(mg, 'req_s'))} | {fmt(med(mg, 'p99_ms'))} | {fmt(med(mg, 'errors'))} | "
                       f"{fmt(cpu(sm))} / {fmt(cpu(mg))} |")
    return out


def main():
    results = load(sys.argv[1])
    meta = json.load(open(sys.argv[2]))
    p = meta["params"]
    lines = [f"# berth scaled out: S3, PostgreSQL, HAProxy (medians of {meta['runs']} runs)", ""]
    lines += [f"- {n}" for n in meta["notes"]]
    if any(r["group"] == "s3" for r in results):
        lines += ["", "## berth and CNCF Distribution on the same S3 server (berth on SQLite metadata)", ""]
        lines += s3_table(results, p)
        lines += ["", "CPU: the registry process's user + system time per GiB moved or per operation; the S3 "
                  "server's likewise. Ratios are berth/Distribution (for latencies Distribution/berth: above 1 "
                  "means berth is better)."]
    if any(r["group"] == "metadata" for r in results):
        lines += ["", "## berth: PostgreSQL metadata against SQLite (both on S3)", ""]
        lines += metadata_table(results, p)
    if any(r["group"] == "nodes" for r in results):
        lines += ["", "## berth nodes sharing PostgreSQL and S3 behind HAProxy (round-robin per request)", ""]
        lines += nodes_table(results, p)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
