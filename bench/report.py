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
    ("push_streamed", "mib_s", "{blob} blob push, streamed (one PATCH + PUT)", "MiB/s", "higher"),
    ("pull_full", "mib_s", "{blob} blob pull, one GET", "MiB/s", "higher"),
    ("pull_range", "mib_s", "{blob} blob pull, {chunk} Range GETs", "MiB/s", "higher"),
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
    lines = [
        f"| metric | unit | better | {a} | {b} | ratio {a}/{b} |",
        "|---|---|---|---:|---:|---:|",
    ]
    for metric, field, label, unit, better in ROWS:
        label = label.format(**meta["params"])
        va, na = median(results, metric, field, "a")
        vb, nb = median(results, metric, field, "b")
        if va is None and vb is None:
            continue  # not measured in this run (bench/run.sh --tests)
        ratio = f"{va / vb:.2f}" if va is not None and vb else "n/a"
        lines.append(f"| {label} | {unit} | {better} | {fmt(va)} | {fmt(vb)} | {ratio} |")
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
          f"{meta['label_a']}. Timings are reported, never asserted.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
