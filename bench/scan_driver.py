"""Client side of bench/scan.sh: timed steps against one berth server, each printing one JSON line.

    python3 bench/scan_driver.py STEP [options]

The server comes from the environment bench/scan.sh sets: BENCH_ADDR (127.0.0.1:PORT), BENCH_USER /
BENCH_PASSWORD (the administrator, Basic auth on /v2), BENCH_ACCESS_KEY_ID / BENCH_SECRET_ACCESS_KEY (SigV4
for the ECR API), BENCH_PID (the server process: its RSS is read from /proc), BENCH_LOG (its log file, JSON
lines). Every wall time is measured here, on the client, end to end: nothing is added to the server.

Steps:
  create-repo NAME [--scan-on-push]
  timed-cmd --metric M -- CMD...              wall time and peak RSS of a command (berth vulndb import)
  push-and-wait --metric M --repo R --tag T -- CMD...
                                              runs the push command, then polls the image's scan every
                                              --interval s (0.05) until COMPLETE and evaluated against the
                                              loaded database; push_s, scan_s (push end → seen complete),
                                              total_s, and the server's peak RSS over the step
  rescan-and-wait --metric M --repo R --tag T StartImageScan, then the same polling
  wait-log --pattern TEXT [--offset N]        waits for a server log line (e.g. the database was loaded)
  log-size                                    the current size of the server log (an offset for wait-log)
  variant-layout --src DIR --dst DIR --label V
                                              an OCI layout with the same layers and a different config
  push-many --repo R --base-tag T --count N   N images sharing R:T's layers, each with its own config,
                                              pushed over /v2 (C concurrent clients), then waits until
                                              every one's scan is COMPLETE: push and scan rates
  reeval --metric M --repo R --count N -- CMD...
                                              runs the import command, then waits for the server's
                                              `re-evaluated scans against the new database` log line
                                              and checks that every image of R shows the new database
  report RESULTS.jsonl META.json              the Markdown report
"""

import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


# ------------------------------------------------------------------ server access
def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"scan_driver: {name} is not set (run through bench/scan.sh)")
    return value


def ecr_client():
    import boto3
    from botocore.config import Config

    return boto3.client(
        "ecr",
        endpoint_url=f"http://{env('BENCH_ADDR')}",
        region_name="us-east-1",
        aws_access_key_id=env("BENCH_ACCESS_KEY_ID"),
        aws_secret_access_key=env("BENCH_SECRET_ACCESS_KEY"),
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=4),
    )


def v2_request(method, path, body=None, headers=None):
    auth = base64.b64encode(f"{env('BENCH_USER')}:{env('BENCH_PASSWORD')}".encode()).decode()
    req = urllib.request.Request(f"http://{env('BENCH_ADDR')}{path}", data=body, method=method)
    req.add_header("Authorization", f"Basic {auth}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:300]!r}") from None


# ------------------------------------------------------------------ server RSS (/proc)
def proc_kib(field):
    try:
        with open(f"/proc/{env('BENCH_PID')}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Resets the server's VmHWM to its current RSS (Linux ≥ 4.0); False if not possible."""
    try:
        with open(f"/proc/{env('BENCH_PID')}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_seconds():
    """User + system CPU time of the server process so far (all threads)."""
    try:
        with open(f"/proc/{env('BENCH_PID')}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def rss_fields(before_kib, reset_ok, cpu_before=None):
    out = {}
    cpu = cpu_seconds()
    if cpu is not None and cpu_before is not None:
        out["server_cpu_s"] = round(cpu - cpu_before, 3)
    if before_kib is not None:
        out["server_rss_before_mib"] = round(before_kib / 1024, 1)
    peak = proc_kib("VmHWM")
    if peak is not None:
        # without a reset the peak covers the server's whole life so far
        out["server_peak_rss_mib" if reset_ok else "server_peak_rss_since_start_mib"] = round(peak / 1024, 1)
    return out


# ------------------------------------------------------------------ polling a scan
def findings_count(resp):
    counts = resp.get("imageScanFindings", {}).get("findingSeverityCounts", {})
    return sum(counts.values())


def wait_scan(ecr, repo, tag, interval, timeout, since):
    """Polls until the image's scan is COMPLETE and evaluated against the loaded database (the response
    carries vulnerabilitySourceUpdatedAt). Returns (time seen, response, polls)."""
    polls = 0
    deadline = since + timeout
    while True:
        polls += 1
        try:
            resp = ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageTag": tag}, maxResults=1)
            status = resp["imageScanStatus"]["status"]
        except ecr.exceptions.ScanNotFoundException:
            status = "NOT_FOUND"
            resp = None
        now = time.time()
        if status == "COMPLETE" and "vulnerabilitySourceUpdatedAt" in resp.get("imageScanFindings", {}):
            return now, resp, polls
        if status == "FAILED":
            sys.exit(f"scan_driver: the scan of {repo}:{tag} failed: {resp['imageScanStatus']}")
        if now > deadline:
            sys.exit(f"scan_driver: {repo}:{tag} not scanned and evaluated after {timeout}s (last: {status})")
        time.sleep(interval)


# ------------------------------------------------------------------ steps
def step_create_repo(a):
    ecr = ecr_client()
    ecr.create_repository(repositoryName=a.name, imageScanningConfiguration={"scanOnPush": a.scan_on_push})


def step_timed_cmd(a):
    start = time.time()
    proc = subprocess.run(a.cmd, capture_output=True, text=True)
    seconds = time.time() - start
    sys.stderr.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"scan_driver: {a.cmd[0]} exited {proc.returncode}")
    maxrss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = {"metric": a.metric, "seconds": seconds, "maxrss_mib": round(maxrss_kib / 1024, 1)}
    m = re.search(r"imported (\d+) advisories", proc.stdout)
    if m:
        out["advisories"] = int(m.group(1))
    print(json.dumps(out))


def step_push_and_wait(a):
    ecr = ecr_client()
    before = proc_kib("VmRSS")
    reset_ok = reset_peak_rss()
    cpu_before = cpu_seconds()
    start = time.time()
    proc = subprocess.run(a.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    pushed = time.time()
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(f"scan_driver: push command exited {proc.returncode}")
    done, resp, polls = wait_scan(ecr, a.repo, a.tag, a.interval, a.timeout, pushed)
    out = {
        "metric": a.metric,
        "push_s": pushed - start,
        "scan_s": done - pushed,
        "total_s": done - start,
        "findings": findings_count(resp),
        "polls": polls,
    }
    out.update(rss_fields(before, reset_ok, cpu_before))
    print(json.dumps(out))


def step_rescan_and_wait(a):
    ecr = ecr_client()
    before = proc_kib("VmRSS")
    reset_ok = reset_peak_rss()
    cpu_before = cpu_seconds()
    start = time.time()
    resp = ecr.start_image_scan(repositoryName=a.repo, imageId={"imageTag": a.tag})
    status = resp["imageScanStatus"]["status"]
    if status not in ("IN_PROGRESS", "PENDING"):
        sys.exit(f"scan_driver: StartImageScan answered {status}, expected IN_PROGRESS")
    done, resp, polls = wait_scan(ecr, a.repo, a.tag, a.interval, a.timeout, start)
    out = {"metric": a.metric, "scan_s": done - start, "total_s": done - start,
           "findings": findings_count(resp), "polls": polls}
    out.update(rss_fields(before, reset_ok, cpu_before))
    print(json.dumps(out))


def log_lines(offset):
    with open(env("BENCH_LOG"), "rb") as f:
        f.seek(offset)
        data = f.read()
    for raw in data.split(b"\n"):
        try:
            yield json.loads(raw)
        except ValueError:
            continue


def log_time(entry):
    """Epoch seconds of a JSON log line's RFC 3339 timestamp (UTC, any number of fraction digits)."""
    ts = entry["timestamp"]
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", ts)
    if not m:
        raise ValueError(f"unexpected log timestamp {ts!r}")
    import calendar

    whole = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    return whole + (float("0." + m.group(2)) if m.group(2) else 0.0)


def wait_log(pattern, offset, timeout):
    deadline = time.time() + timeout
    while True:
        for entry in log_lines(offset):
            if pattern in entry.get("fields", {}).get("message", ""):
                return entry
        if time.time() > deadline:
            sys.exit(f"scan_driver: no server log line {pattern!r} within {timeout}s")
        time.sleep(0.05)


def step_wait_log(a):
    wait_log(a.pattern, a.offset, a.timeout)


def step_log_size(_a):
    print(os.path.getsize(env("BENCH_LOG")))


def step_variant_layout(a):
    """Copies an OCI layout with one image, giving the image a different config (an extra label): the same
    layers under a new manifest digest."""
    with open(os.path.join(a.src, "index.json")) as f:
        index = json.load(f)
    desc = index["manifests"][0]
    blobs_src = os.path.join(a.src, "blobs", "sha256")
    blobs_dst = os.path.join(a.dst, "blobs", "sha256")
    os.makedirs(blobs_dst, exist_ok=True)

    def read_blob(d):
        with open(os.path.join(blobs_src, d.split(":", 1)[1]), "rb") as f:
            return f.read()

    def write_blob(data):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs_dst, digest), "wb") as f:
            f.write(data)
        return f"sha256:{digest}", len(data)

    manifest = json.loads(read_blob(desc["digest"]))
    for layer in manifest["layers"]:
        write_blob(read_blob(layer["digest"]))
    config = json.loads(read_blob(manifest["config"]["digest"]))
    config.setdefault("config", {}).setdefault("Labels", {})["dev.berth.bench.variant"] = a.label
    manifest["config"]["digest"], manifest["config"]["size"] = write_blob(json.dumps(config).encode())
    digest, size = write_blob(json.dumps(manifest).encode())
    index["manifests"] = [dict(desc, digest=digest, size=size)]
    with open(os.path.join(a.dst, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(a.dst, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def all_images(ecr, repo):
    """Every tagged image of the repository (DescribeImages, paginated)."""
    out = []
    for page in ecr.get_paginator("describe_images").paginate(
        repositoryName=repo, filter={"tagStatus": "TAGGED"}, PaginationConfig={"PageSize": 1000}
    ):
        out.extend(page["imageDetails"])
    return out


def step_push_many(a):
    ecr = ecr_client()
    repo = a.repo
    _, _, body = v2_request("GET", f"/v2/{repo}/manifests/{a.base_tag}", headers={"Accept": OCI_MANIFEST})
    base = json.loads(body)
    _, _, cfg = v2_request("GET", f"/v2/{repo}/blobs/{base['config']['digest']}")
    config = json.loads(cfg)
    nonce = os.urandom(6).hex()

    def push_one(i):
        c = json.loads(json.dumps(config))
        c.setdefault("config", {}).setdefault("Labels", {})["dev.berth.bench.image"] = f"{nonce}-{i}"
        data = json.dumps(c).encode()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        v2_request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", body=data,
                   headers={"Content-Type": "application/octet-stream"})
        m = dict(base, config=dict(base["config"], digest=digest, size=len(data)))
        v2_request("PUT", f"/v2/{repo}/manifests/img-{i}", body=json.dumps(m).encode(),
                   headers={"Content-Type": base.get("mediaType", OCI_MANIFEST)})

    before = proc_kib("VmRSS")
    reset_ok = reset_peak_rss()
    cpu_before = cpu_seconds()
    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(a.concurrency) as pool:
        list(pool.map(push_one, range(1, a.count + 1)))
    pushed = time.time()
    # Scans run oldest first; when the last image pushed is scanned the others are too (checked below).
    # Scans run oldest first: wait for the last image pushed, then check every image (the concurrent
    # pushes may have finished a few out of order).
    done, _, _ = wait_scan(ecr, repo, f"img-{a.count}", a.interval, a.timeout, pushed)
    server = rss_fields(before, reset_ok, cpu_before)
    while True:
        images = all_images(ecr, repo)
        complete = sum(1 for d in images if d.get("imageScanStatus", {}).get("status") == "COMPLETE")
        if complete >= a.count + 1:  # the base image too
            break
        if done > pushed + a.timeout:
            sys.exit(f"scan_driver: only {complete} of {a.count + 1} images of {repo} scanned")
        time.sleep(a.interval)
        done = time.time()
    out = {
        "metric": "many_push",
        "images": a.count,
        "seconds": pushed - start,
        "images_s": a.count / (pushed - start),
    }
    print(json.dumps(out))
    out = {
        "metric": "many_scan",
        "images": a.count,
        "seconds": done - start,
        "images_s": a.count / (done - start),
        "after_push_s": done - pushed,
    }
    out.update(server)
    print(json.dumps(out))


def step_reeval(a):
    ecr = ecr_client()
    offset = os.path.getsize(env("BENCH_LOG"))
    before = proc_kib("VmRSS")
    reset_ok = reset_peak_rss()
    cpu_before = cpu_seconds()
    start = time.time()
    proc = subprocess.run(a.cmd, capture_output=True, text=True)
    imported = time.time()
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"scan_driver: import exited {proc.returncode}")
    m = re.search(r"imported (\d+) advisories as \S+ \(source .*, (\S+)\)", proc.stdout)
    advisories = int(m.group(1)) if m else None
    loaded = wait_log("vulnerability database loaded", offset, a.timeout)
    done = wait_log("re-evaluated scans against the new database", offset, a.timeout)
    t_loaded, t_done = log_time(loaded), log_time(done)
    server = rss_fields(before, reset_ok, cpu_before)
    n = done["fields"].get("images")
    # Every image must now show the new database (vulnerabilitySourceUpdatedAt = the import's time).
    images = all_images(ecr, a.repo)
    stamps = {
        d.get("imageScanFindingsSummary", {}).get("vulnerabilitySourceUpdatedAt") for d in images
    }
    if len(images) < a.count or None in stamps or len(stamps) != 1:
        sys.exit(f"scan_driver: after re-evaluation {len(images)} images show sources {stamps}")
    out = {
        "metric": a.metric,
        "advisories": advisories,
        "import_s": imported - start,
        "pickup_s": t_loaded - imported,
        "reeval_s": t_done - t_loaded,
        "images": n,
        "images_s": n / (t_done - t_loaded) if n and t_done > t_loaded else None,
        "total_s": t_done - start,
        "checked_images": len(images),
    }
    out.update(server)
    print(json.dumps(out))


# ------------------------------------------------------------------ report
ROWS = [
    # (metric, field, label, unit)
    ("vulndb_import", "seconds", "`berth vulndb import` of all five zips ({advisories} advisories)", "s"),
    ("vulndb_import", "maxrss_mib", "  peak RSS of the import process", "MiB"),
    ("fixture_cold", "total_s", "fixture (5 layers): skopeo push → scan COMPLETE+evaluated, cold", "s"),
    ("fixture_cold", "push_s", "  of which the push (skopeo copy)", "s"),
    ("fixture_cold", "scan_s", "  of which push end → seen COMPLETE", "s"),
    ("fixture_rescan", "scan_s", "fixture: StartImageScan again → COMPLETE (layer cache hit)", "s"),
    ("fixture_cached_push", "total_s", "fixture, new config in another repo: push → COMPLETE (cache hit)", "s"),
    ("fixture_cached_push", "scan_s", "  of which push end → seen COMPLETE", "s"),
    ("debian_cold", "total_s", "Debian bookworm minbase: docker push → COMPLETE+evaluated, cold", "s"),
    ("debian_cold", "push_s", "  of which the push (docker push)", "s"),
    ("debian_cold", "scan_s", "  of which push end → seen COMPLETE", "s"),
    ("debian_cold", "findings", "  findings (all five databases)", "count"),
    ("debian_rescan", "scan_s", "Debian: StartImageScan again → COMPLETE (layer cache hit)", "s"),
    ("debian_cached_push", "total_s", "Debian, new config in another repo: push → COMPLETE (cache hit)", "s"),
    ("debian_cached_push", "scan_s", "  of which push end → seen COMPLETE", "s"),
    ("fixture_cold", "server_cpu_s", "server CPU time (user+sys): cold fixture push + scan", "s"),
    ("fixture_rescan", "server_cpu_s", "server CPU time: fixture rescan (cached layers)", "s"),
    ("debian_cold", "server_cpu_s", "server CPU time: cold Debian push + scan", "s"),
    ("debian_rescan", "server_cpu_s", "server CPU time: Debian rescan (cached layers)", "s"),
    ("fixture_cold", "server_peak_rss_mib", "server peak RSS during the cold fixture scan", "MiB"),
    ("debian_cold", "server_rss_before_mib", "server RSS before the Debian push (database loaded)", "MiB"),
    ("debian_cold", "server_peak_rss_mib", "server peak RSS during the cold Debian push + scan", "MiB"),
    ("debian_cached_push", "server_peak_rss_mib", "server peak RSS during the cached Debian push + scan", "MiB"),
    ("many_push", "images_s", "{images} images sharing the fixture's layers: push (/v2, 8 clients)", "images/s"),
    ("many_scan", "images_s", "  scanned (cached layers): first push → last COMPLETE", "images/s"),
    ("many_scan", "seconds", "  first push → last COMPLETE", "s"),
    ("many_scan", "server_cpu_s", "  server CPU time (pushes + scans)", "s"),
    ("many_scan", "server_peak_rss_mib", "  server peak RSS", "MiB"),
    ("reeval_pypi_npm", "import_s", "import PyPI + npm ({advisories_small} advisories), {stored} scans stored", "s"),
    ("reeval_pypi_npm", "pickup_s", "  import end → server loaded it (polls every 5 s)", "s"),
    ("reeval_pypi_npm", "reeval_s", "  re-evaluation of {stored} scans (server log)", "s"),
    ("reeval_pypi_npm", "images_s", "  re-evaluation rate", "images/s"),
    ("reeval_all", "import_s", "import all five again ({advisories} advisories)", "s"),
    ("reeval_all", "pickup_s", "  import end → server loaded it", "s"),
    ("reeval_all", "reeval_s", "  re-evaluation of {stored} scans (server log)", "s"),
    ("reeval_all", "images_s", "  re-evaluation rate", "images/s"),
    ("reeval_all", "total_s", "  import start → every scan re-evaluated", "s"),
    ("reeval_all", "server_cpu_s", "  server CPU time (load + re-evaluation)", "s"),
    ("reeval_all", "server_peak_rss_mib", "  server peak RSS (load + re-evaluation)", "MiB"),
]


def fmt(v):
    if v is None:
        return "n/a"
    if isinstance(v, int) or float(v).is_integer() and abs(v) >= 1:
        return f"{int(v):,}"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def step_report(a):
    with open(a.results) as f:
        results = [json.loads(line) for line in f if line.strip()]
    with open(a.meta) as f:
        meta = json.load(f)
    params = dict(meta.get("params", {}))
    for r in results:
        if r["metric"] == "vulndb_import" and r.get("advisories"):
            params.setdefault("advisories", f"{r['advisories']:,}")
        if r["metric"] == "reeval_pypi_npm" and r.get("advisories"):
            params.setdefault("advisories_small", f"{r['advisories']:,}")
        if r["metric"] == "many_scan":
            params.setdefault("images", f"{r['images']:,}")
        if r["metric"].startswith("reeval") and r.get("images"):
            params.setdefault("stored", f"{r['images']:,}")
    params.setdefault("advisories", "?")
    params.setdefault("advisories_small", "?")
    params.setdefault("images", "?")
    params.setdefault("stored", "?")
    print(f"## berth scanning benchmark, {meta['started']}")
    print()
    for line in meta.get("notes", []):
        print(f"- {line}")
    print()
    print("| measurement | unit | median | min | max | n |")
    print("|---|---|---:|---:|---:|---:|")
    for metric, field, label, unit in ROWS:
        vals = [r[field] for r in results if r["metric"] == metric and r.get(field) is not None]
        if not vals:
            continue
        print(f"| {label.format(**params)} | {unit} | {fmt(statistics.median(vals))} | {fmt(min(vals))} "
              f"| {fmt(max(vals))} | {len(vals)} |")
    overall = [v for r in results for k, v in r.items() if k.startswith("server_peak_rss") and v is not None]
    if overall:
        print(f"| server peak RSS over every measured step | MiB | {fmt(max(overall))} | | | |")
    print()
    for line in meta.get("footnotes", []):
        print(f"- {line}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="step", required=True)

    s = sub.add_parser("create-repo")
    s.add_argument("name")
    s.add_argument("--scan-on-push", action="store_true")
    s.set_defaults(fn=step_create_repo)

    s = sub.add_parser("timed-cmd")
    s.add_argument("--metric", required=True)
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(fn=step_timed_cmd)

    for name, fn in (("push-and-wait", step_push_and_wait), ("rescan-and-wait", step_rescan_and_wait)):
        s = sub.add_parser(name)
        s.add_argument("--metric", required=True)
        s.add_argument("--repo", required=True)
        s.add_argument("--tag", required=True)
        s.add_argument("--interval", type=float, default=0.05)
        s.add_argument("--timeout", type=float, default=600)
        if name == "push-and-wait":
            s.add_argument("cmd", nargs=argparse.REMAINDER)
        s.set_defaults(fn=fn)

    s = sub.add_parser("wait-log")
    s.add_argument("--pattern", required=True)
    s.add_argument("--offset", type=int, default=0)
    s.add_argument("--timeout", type=float, default=60)
    s.set_defaults(fn=step_wait_log)

    s = sub.add_parser("log-size")
    s.set_defaults(fn=step_log_size)

    s = sub.add_parser("variant-layout")
    s.add_argument("--src", required=True)
    s.add_argument("--dst", required=True)
    s.add_argument("--label", required=True)
    s.set_defaults(fn=step_variant_layout)

    s = sub.add_parser("push-many")
    s.add_argument("--repo", required=True)
    s.add_argument("--base-tag", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--concurrency", type=int, default=8)
    s.add_argument("--interval", type=float, default=0.25)
    s.add_argument("--timeout", type=float, default=1800)
    s.set_defaults(fn=step_push_many)

    s = sub.add_parser("reeval")
    s.add_argument("--metric", required=True)
    s.add_argument("--repo", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--timeout", type=float, default=1800)
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(fn=step_reeval)

    s = sub.add_parser("report")
    s.add_argument("results")
    s.add_argument("meta")
    s.set_defaults(fn=step_report)

    a = p.parse_args()
    if getattr(a, "cmd", None) and a.cmd[0] == "--":
        a.cmd = a.cmd[1:]
    a.fn(a)


if __name__ == "__main__":
    main()
