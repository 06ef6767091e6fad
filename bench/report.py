"""Turns the JSON lines written by bench/run.sh into a Markdown table (medians per side).

    python3 bench/report.py RESULTS.jsonl META.json

Each result line is a berth-loadgen output plus "side" ("a" or "b") and "run". META holds
the labels of the two sides and the run's description. Prints the Markdown report.
"""

import json
import statistics
import sys

# (metric in the JSON, field, row label, unit, better)
ROWS = [
    ("push_monolithic", "mib_s", "{blob} blob push, monolithic (POST + one PUT)", "MiB/s", "higher"),
    ("push_chunked", "mib_s", "{blob} blob push, chunked ({chunk} PATCHes + PUT)", "MiB/s", "higher"),
    ("push_chunked", "p99_ms", "  chunked push, one PATCH, p99", "ms", "lower"),
    ("push_streamed", "mib_s", "{blob} blob push, streamed (one PATCH + PUT)", "MiB/s", "higher"),
    ("pull_full", "mib_s", "{blob} blob pull, one GET", "MiB/s", "higher"),
    ("pull_range", "mib_s", "{blob} blob pull, {chunk} Range GETs", "MiB/s", "higher"),
    ("pull_range", "p99_ms", "  one {chunk} Range GET, p99", "ms", "lower"),
    ("small_blobs", "ops_s", "{count} x 4 KiB blob pushes (POST + PUT), {conc} clients", "ops/s", "higher"),
    ("small_blobs", "p50_ms", "  small blob push latency p50", "ms", "lower"),
    ("small_blobs", "p99_ms", "  small blob push latency p99", "ms", "lower"),
    ("manifest_get", "req_s", "manifest GET by tag, {conns} connections, {dur}", "req/s", "higher"),
    ("manifest_get", "p99_ms", "  manifest GET latency p99", "ms", "lower"),
    ("skopeo_copy", "seconds", "skopeo copy of oci-scanner-fixture (5 layers)", "s", "lower"),
    ("peak_rss", "mib", "server peak RSS (VmHWM) over the whole run", "MiB", "lower"),
]


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def median(results, metric, field, side):
    vals = [r[field] for r in results if r["metric"] == metric and r["side"] == side]
    return (statistics.median(vals), len(vals)) if vals else (None, 0)


GIB = 1024**3


def server_cpu(results, metric, side):
    """Median server CPU: (value, unit) per GiB moved, per operation, or per run."""
    rows = [r for r in results if r["metric"] == metric and r["side"] == side and "server_cpu_s" in r]
    if not rows:
        return None, ""
    if metric.startswith(("push_", "pull_")):
        return statistics.median(r["server_cpu_s"] / (r["bytes"] / GIB) for r in rows), "s/GiB"
    if metric == "small_blobs":
        return statistics.median(r["server_cpu_s"] / r["count"] * 1e6 for r in rows), "µs/push"
    if metric == "manifest_get":
        return statistics.median(r["server_cpu_s"] / r["requests"] * 1e6 for r in rows), "µs/GET"
    return statistics.median(r["server_cpu_s"] for r in rows), "s"


def references(results):
    ref = {r["metric"]: r["mib_s"] for r in results if r["side"] == "ref"}
    return ref.get("ref_sha256"), ref.get("ref_fdatasync_write"), ref.get("loopback_tcp")


def limit_of(metric, refs):
    """The physical limit (MiB/s, what bounds it) of a large-blob row, and the least server CPU per GiB."""
    sha, disk, tcp = refs
    if metric.startswith("push_") and sha and disk and tcp:
        bound = min((sha, "SHA-256"), (disk, "fdatasync write"), (tcp, "loopback TCP"))
        return bound, 1024 / sha
    if metric.startswith("pull_") and tcp:
        return (tcp, "loopback TCP"), None
    return None, None


def fmt(v):
    if v is None:
        return "n/a"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def table(results, meta):
    a, b = meta["label_a"], meta["label_b"]
    refs = references(results)
    lines = [
        f"| metric | unit | better | {a} | {b} | ratio {a}/{b} | {a} server CPU | {b} server CPU "
        f"| physical limit | {a} / limit |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for metric, field, label, unit, better in ROWS:
        label = label.format(**meta["params"])
        va, na = median(results, metric, field, "a")
        vb, nb = median(results, metric, field, "b")
        if va is None and vb is None:
            continue  # not measured in this run (bench/run.sh --tests)
        ratio = f"{va / vb:.2f}" if va is not None and vb else "n/a"
        cpu_a = cpu_b = limit = frac = ""
        if field in ("mib_s", "ops_s", "req_s", "seconds"):
            (ca, cu), (cb, _) = server_cpu(results, metric, "a"), server_cpu(results, metric, "b")
            cpu_a = f"{fmt(ca)} {cu}" if ca is not None else ""
            cpu_b = f"{fmt(cb)} {cu}" if cb is not None else ""
            bound, least_cpu = limit_of(metric, refs)
            if bound and va is not None:
                limit = f"{fmt(bound[0])} MiB/s ({bound[1]})"
                frac = f"{va / bound[0]:.2f}"
                if least_cpu and ca:
                    frac += f"; CPU {least_cpu / ca:.2f} of hash-only"
        lines.append(
            f"| {label} | {unit} | {better} | {fmt(va)} | {fmt(vb)} | {ratio} | {cpu_a} | {cpu_b} | {limit} | {frac} |"
        )
    sha, disk, tcp = refs
    if sha and disk and tcp:
        lines.append("")
        lines.append(
            "Physical references (same run, before the servers started): "
            f"SHA-256 on one core {fmt(sha)} MiB/s ({1024 / sha:.2f} CPU-s/GiB), "
            f"fdatasync'd sequential write {fmt(disk)} MiB/s, "
            f"loopback TCP (user-space copy at both ends) {fmt(tcp)} MiB/s."
        )
    return "\n".join(lines)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    results = load(argv[1])
    with open(argv[2]) as f:
        meta = json.load(f)
    print(f"## berth benchmark, {meta['started']}")
    print()
    for line in meta.get("notes", []):
        print(f"- {line}")
    print()
    print(table(results, meta))
    print()
    print(f"Median of {meta['runs']} runs per cell (peak RSS: one reading per server). "
          "Ratios are plain quotients; for 'lower is better' rows a ratio below 1 favours "
          f"{meta['label_a']}. Server CPU is utime + stime of the server process over the "
          "measurement (kernel writeback threads are not counted), per GiB moved or per operation. "
          "'/ limit': throughput as a fraction of the physical limit that bounds it (push: the "
          "least of SHA-256 on one core, the fdatasync'd write and loopback TCP; pull: loopback TCP), "
          "and for pushes the hash-only CPU cost (1 GiB of SHA-256) as a fraction of the server's "
          "CPU per GiB. Timings are reported, never asserted.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
