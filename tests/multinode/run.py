#!/usr/bin/env python3
"""Three berth nodes sharing PostgreSQL and an S3 server (moto), behind HAProxy (round-robin, per request).

    python3 tests/multinode/run.py            # BERTH_BIN or ${CARGO_TARGET_DIR:-target}/release/berth

Starts everything itself on free loopback ports in a temporary directory (kept with MULTINODE_KEEP=1), then
checks, through the balancer: docker push/pull of a multi-layer image, skopeo and oras round trips, the aws
CLI; a chunked upload whose POST, PATCHes and PUT go to different nodes; a temporary login password and a
bearer token issued by one node accepted by the others; a scan queued on a node that runs no jobs
(BERTH_JOB_WORKERS=0) run by another. Kill tests: SIGKILL of a node in the middle of a
chunked push of MULTINODE_BIG_MIB (default 200) MiB (the client resumes through the balancer from the
upload's Range and the blob's digest verifies), SIGKILL during manifest pushes, PostgreSQL stopped mid-run
(503 UNAVAILABLE with Retry-After while down, recovery without restarting berth). Last, every blob and tag
a node acknowledged is read back and verified. Prints `ok NAME` / `FAIL NAME: why` and
`multinode: N passed, M failed`; exits 1 if anything failed.
"""

import base64
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
BERTH = os.environ.get("BERTH_BIN") or os.path.join(TARGET, "release", "berth")
BIG_MIB = int(os.environ.get("MULTINODE_BIG_MIB", "200"))
KEY_ID, KEY_SECRET = "AKIAMULTINODETEST01", "multinode-secret-key-0123456789abcdef"
ADMIN_PASSWORD = "multinode-admin-" + base64.b32encode(os.urandom(10)).decode().lower()
S3_KEY, S3_SECRET = "testing", "testing"  # moto accepts any credentials
CHUNK = 8 * 1024 * 1024
# Secrets in the shared database are sealed with this key: every node must have the same one.
MASTER_KEY = base64.b64encode(os.urandom(32)).decode()

tmp = tempfile.mkdtemp(prefix="berth-multinode.")
procs = {}  # name -> Popen
results = []
acked_blobs = {}  # digest -> (repository, size)
acked_tags = {}  # (repository, tag) -> manifest digest


def log(*a):
    print(*a, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, probe, timeout=90):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if probe():
                return
        except Exception as e:  # noqa: BLE001 - anything means "not yet"
            last = e
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not come up within {timeout}s ({last})")


def start(name, argv, env=None, user=None):
    out = open(os.path.join(tmp, f"{name}.log"), "ab")
    kw = {}
    if user is not None:
        pw = pwd.getpwnam(user)

        def demote():
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)

        kw["preexec_fn"] = demote
    procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, **kw)
    return procs[name]


def stop(name, sig=signal.SIGTERM):
    p = procs.get(name)
    if p and p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# ---- PostgreSQL ----------------------------------------------------------------------------------------------


def pg_bin(tool):
    found = shutil.which(tool)
    if found:
        return found
    for v in ("17", "16", "15"):
        p = f"/usr/lib/postgresql/{v}/bin/{tool}"
        if os.path.exists(p):
            return p
    raise RuntimeError(f"{tool} not found (apt-get install postgresql)")


PG_PORT = free_port()
PG_DIR = os.path.join(tmp, "pg")
PG_USER = "postgres" if os.geteuid() == 0 else None


def pg_start():
    start("postgres", [pg_bin("postgres"), "-D", PG_DIR, "-p", str(PG_PORT), "-k", PG_DIR, "-h", "127.0.0.1",
                       "-c", "fsync=off", "-c", "max_connections=200"], user=PG_USER)
    wait_for("postgres", lambda: socket.create_connection(("127.0.0.1", PG_PORT), 1).close() or True)
    time.sleep(0.5)


def pg_setup():
    os.mkdir(PG_DIR)
    if PG_USER:
        pw = pwd.getpwnam(PG_USER)
        os.chmod(tmp, 0o755)
        os.chown(PG_DIR, pw.pw_uid, pw.pw_gid)
    r = subprocess.run(["runuser", "-u", PG_USER, "--"] * bool(PG_USER) +
                       [pg_bin("initdb"), "-D", PG_DIR, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--locale=C", "--no-sync"], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("initdb: " + r.stderr)
    pg_start()
    r = subprocess.run([pg_bin("psql"), "-X", "-q", "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", "postgres",
                        "-c", "CREATE DATABASE berth"], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("createdb: " + r.stderr)


# ---- moto (S3) -----------------------------------------------------------------------------------------------

S3_PORT = free_port()


def s3_setup():
    start("moto", ["moto_server", "-H", "127.0.0.1", "-p", str(S3_PORT)])
    wait_for("moto", lambda: requests.get(f"http://127.0.0.1:{S3_PORT}/", timeout=2).status_code < 500)
    import boto3

    boto3.client("s3", endpoint_url=f"http://127.0.0.1:{S3_PORT}", aws_access_key_id=S3_KEY,
                 aws_secret_access_key=S3_SECRET, region_name="us-east-1").create_bucket(Bucket="berth")


# ---- berth nodes and HAProxy ---------------------------------------------------------------------------------

NODES = {f"node{i}": free_port() for i in (1, 2, 3)}
LB_PORT = free_port()
LB = f"127.0.0.1:{LB_PORT}"
# A node that runs no jobs, so that a scan queued there must be run by another.
QUEUE_ONLY = "node1"
FIXTURE = os.path.join(os.path.dirname(ROOT), "shared", "testdata", "fixtures", "oci-scanner-fixture")


def node_env(name):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BERTH_"))}
    env.update({
        "BERTH_METADATA_URL": f"postgres://postgres@127.0.0.1:{PG_PORT}/berth",
        "BERTH_STORAGE_URL": "s3://berth/registry",
        "BERTH_S3_ENDPOINT": f"http://127.0.0.1:{S3_PORT}",
        "BERTH_S3_PATH_STYLE": "true",
        "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_REGION": "us-east-1",
        "BERTH_MASTER_KEY": MASTER_KEY,
        "BERTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "BERTH_ADMIN_ACCESS_KEY_ID": KEY_ID, "BERTH_ADMIN_SECRET_ACCESS_KEY": KEY_SECRET,
        "RUST_LOG": "info",
    })
    if name == QUEUE_ONLY:
        env["BERTH_JOB_WORKERS"] = "0"  # it queues jobs (scans on push); the other nodes run them
    return env


def node_start(name):
    port = NODES[name]
    data = os.path.join(tmp, name)
    os.makedirs(data, exist_ok=True)
    start(name, [BERTH, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data], env=node_env(name))
    wait_for(name, lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok)


def haproxy_start():
    servers = "\n".join(f"    server {n} 127.0.0.1:{p} check inter 500 fall 2 rise 2" for n, p in NODES.items())
    cfg = f"""global
    maxconn 512
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    retries 2
    option redispatch
    retry-on conn-failure empty-response
frontend registry
    bind 127.0.0.1:{LB_PORT}
    default_backend berth
backend berth
    balance roundrobin
    # One request per server connection: every request is balanced on its own (no stickiness).
    option http-server-close
    http-reuse never
    option httpchk GET /healthz
{servers}
"""
    path = os.path.join(tmp, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(cfg)
    start("haproxy", ["haproxy", "-db", "-f", path])
    wait_for("haproxy", lambda: requests.get(f"http://{LB}/healthz", timeout=2).ok)


# ---- registry client helpers ---------------------------------------------------------------------------------

AUTH = ("admin", ADMIN_PASSWORD)


def url(host, path):
    return f"http://{host}{path}"


def node(name):
    return f"127.0.0.1:{NODES[name]}"


def absolute(host, location):
    return urllib.parse.urljoin(f"http://{host}/", location)


def put_blob(host, repo, data, auth=AUTH):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = requests.post(url(host, f"/v2/{repo}/blobs/uploads/?digest={digest}"), data=data, auth=auth, timeout=60)
    assert r.status_code == 201, f"monolithic upload: {r.status_code} {r.text[:300]}"
    acked_blobs[digest] = (repo, len(data))
    return digest


def put_manifest(host, repo, tag, config, layers, auth=AUTH):
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config[0], "size": config[1]},
         "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s}
                    for d, s in layers]}
    body = json.dumps(m).encode()
    r = requests.put(url(host, f"/v2/{repo}/manifests/{tag}"), data=body, auth=auth, timeout=30,
                     headers={"Content-Type": m["mediaType"]})
    if r.status_code != 201:
        raise RuntimeError(f"manifest PUT: {r.status_code} {r.text[:300]}")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    acked_tags[(repo, tag)] = digest
    return digest


def small_image(host, repo, tag, seed):
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    layer = f"layer {seed}\n".encode() * 100
    c = put_blob(host, repo, cfg)
    lay = put_blob(host, repo, layer)
    return put_manifest(host, repo, tag, (c, len(cfg)), [(lay, len(layer))])


def run(argv, stdin=None, env=None, timeout=300):
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
    if r.returncode:
        raise RuntimeError(f"{' '.join(argv[:3])}... exited {r.returncode}: {r.stderr.strip()[-800:]}")
    return r.stdout


def served_by_logs():
    """How many requests each node's log shows (to prove the balancer spreads them)."""
    counts = {}
    for n in NODES:
        with open(os.path.join(tmp, f"{n}.log"), "rb") as f:
            counts[n] = f.read().count(b"berth_api::observe")
    return counts


# ---- cases ---------------------------------------------------------------------------------------------------


def case_spread():
    before = served_by_logs()
    for _ in range(12):
        assert requests.get(url(LB, "/v2/"), auth=AUTH, timeout=10).status_code == 200
    after = served_by_logs()
    grew = [n for n in NODES if after[n] > before[n]]
    if len(grew) != 3:
        # Request logging may be off at this level; check directly that each node answers for the shared store.
        for n in NODES:
            assert requests.get(url(node(n), "/v2/"), auth=AUTH, timeout=10).status_code == 200
        log(f"  (request counts in the logs: {after}; not all grew)")


def case_chunked_across_nodes():
    repo = "multinode/chunked"
    data = os.urandom(3 * CHUNK + 12345)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    r = requests.post(url(node("node1"), f"/v2/{repo}/blobs/uploads/"), auth=AUTH, timeout=30)
    assert r.status_code == 202, f"POST: {r.status_code} {r.text}"
    loc = absolute(node("node1"), r.headers["Location"])
    path = urllib.parse.urlsplit(loc)
    order = ["node2", "node3", "node1", "node2"]
    off = 0
    for i, n in enumerate(order):
        piece = data[i * CHUNK:(i + 1) * CHUNK]
        target = f"http://{node(n)}{path.path}?{path.query}" if path.query else f"http://{node(n)}{path.path}"
        r = requests.patch(target, data=piece, auth=AUTH, timeout=60, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{off}-{off + len(piece) - 1}", "Content-Length": str(len(piece))})
        assert r.status_code == 202, f"PATCH {i} on {n}: {r.status_code} {r.text[:300]}"
        off += len(piece)
        path = urllib.parse.urlsplit(absolute(node(n), r.headers["Location"]))
    assert off == len(data)
    # The status as any node sees it, then the PUT on node3.
    for n in NODES:
        r = requests.get(f"http://{node(n)}{path.path}", auth=AUTH, timeout=30)
        assert r.status_code == 204 and r.headers.get("Range") == f"0-{off - 1}", \
            f"status on {n}: {r.status_code} {r.headers.get('Range')}"
    sep = "&" if path.query else "?"
    r = requests.put(f"http://{node('node3')}{path.path}?{path.query}{sep}digest={digest}"
                     if path.query else f"http://{node('node3')}{path.path}?digest={digest}", auth=AUTH, timeout=120)
    assert r.status_code == 201, f"PUT: {r.status_code} {r.text[:300]}"
    acked_blobs[digest] = (repo, len(data))
    got = requests.get(url(LB, f"/v2/{repo}/blobs/{digest}"), auth=AUTH, timeout=120).content
    assert hashlib.sha256(got).hexdigest() == digest.split(":")[1], "blob read back differs"


def case_docker():
    ref = f"{LB}/multinode/docker:1"
    ctx = os.path.join(tmp, "docker-ctx")
    os.makedirs(ctx, exist_ok=True)
    shutil.copy("/bin/busybox", os.path.join(ctx, "busybox"))
    for i in range(3):
        with open(os.path.join(ctx, f"f{i}"), "wb") as f:
            f.write(os.urandom(200_000))
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write("FROM scratch\nCOPY busybox /bin/busybox\nCOPY f0 /f0\nCOPY f1 /f1\nCOPY f2 /f2\n"
                'CMD ["/bin/busybox", "echo", "hello from three nodes"]\n')
    env = dict(os.environ, DOCKER_CONFIG=os.path.join(tmp, "docker-config"), DOCKER_BUILDKIT="0")
    run(["docker", "build", "--force-rm", "-q", "-t", ref, ctx], env=env)
    try:
        run(["docker", "login", LB, "--username", "admin", "--password-stdin"], stdin=ADMIN_PASSWORD + "\n", env=env)
        out = run(["docker", "push", ref], env=env)
        digest = next(w for w in out.split() if w.startswith("sha256:"))
        acked_tags[("multinode/docker", "1")] = digest
        run(["docker", "rmi", ref], env=env)
        run(["docker", "pull", ref], env=env)
        out = run(["docker", "run", "--rm", "--network", "none", ref], env=env)
        assert out.strip() == "hello from three nodes", out
        layers = json.loads(run(["docker", "image", "inspect", ref], env=env))[0]["RootFS"]["Layers"]
        assert len(layers) == 4, f"expected 4 layers, got {len(layers)}"
    finally:
        subprocess.run(["docker", "rmi", "-f", ref], capture_output=True, env=env)


def case_skopeo():
    creds = ["--creds", f"admin:{ADMIN_PASSWORD}"]
    src = os.path.join(tmp, "oci-src")
    small = os.path.join(tmp, "skopeo-out")
    # An image pushed by plain HTTP, copied registry-to-registry and out to a directory, all through the balancer.
    small_image(LB, "multinode/skopeo-src", "v1", "skopeo")
    run(["skopeo", "copy", "--src-tls-verify=false", "--dest-tls-verify=false", *["--src-creds", creds[1]],
         *["--dest-creds", creds[1]], f"docker://{LB}/multinode/skopeo-src:v1", f"docker://{LB}/multinode/skopeo:v1"])
    run(["skopeo", "copy", "--src-tls-verify=false", *["--src-creds", creds[1]],
         f"docker://{LB}/multinode/skopeo:v1", f"oci:{small}:v1"])
    out = json.loads(run(["skopeo", "inspect", "--tls-verify=false", *creds, f"docker://{LB}/multinode/skopeo:v1"]))
    acked_tags[("multinode/skopeo", "v1")] = out["Digest"]
    del src


def case_oras():
    f = os.path.join(tmp, "artifact.txt")
    with open(f, "w") as fh:
        fh.write("an artifact on three nodes\n" * 1000)
    ref = f"{LB}/multinode/oras:v1"
    env = dict(os.environ, E2E_TMP=tmp)
    tool = os.path.join(ROOT, "tests", "e2e", "orasctl.py")
    run([sys.executable, tool, "push", ref, f, "text/plain", "--user", "admin", "--auth", "basic"],
        stdin=ADMIN_PASSWORD + "\n", env=env)
    out = os.path.join(tmp, "oras-out")
    run([sys.executable, tool, "pull", ref, out, "--user", "admin", "--auth", "basic"],
        stdin=ADMIN_PASSWORD + "\n", env=env)
    pulled = [os.path.join(d, n) for d, _, ns in os.walk(out) for n in ns]
    assert pulled and open(pulled[0]).read() == open(f).read(), f"pulled {pulled}"


def aws_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": KEY_SECRET, "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""})
    return env


def case_aws_cli():
    env = aws_env()
    for _ in range(3):  # three requests: each node answers one
        out = json.loads(run(["aws", "ecr", "describe-repositories", "--endpoint-url", f"http://{LB}"], env=env))
        names = {r["repositoryName"] for r in out["repositories"]}
        assert {"multinode/docker", "multinode/chunked"} <= names, names
    out = json.loads(run(["aws", "ecr", "describe-images", "--repository-name", "multinode/docker",
                          "--endpoint-url", f"http://{LB}"], env=env))
    assert any("1" in d.get("imageTags", []) for d in out["imageDetails"]), out


def case_login_password_and_token():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BERTH_"))}
    env.update({"BERTH_ACCESS_KEY_ID": KEY_ID, "BERTH_SECRET_ACCESS_KEY": KEY_SECRET,
                "BERTH_ENDPOINT": f"http://{node('node1')}", "HOME": tmp})
    password = run([BERTH, "login-password"], env=env).strip()
    assert password, "no password printed"
    for n in ("node2", "node3"):
        r = requests.get(url(node(n), "/v2/multinode/docker/tags/list"), auth=("AWS", password), timeout=10)
        assert r.status_code == 200, f"temporary password from node1 on {n}: {r.status_code} {r.text[:200]}"
    # A registry bearer token from node1's token endpoint, used on the other two.
    r = requests.get(url(node("node1"), "/v2/multinode/docker/tags/list"), timeout=10)
    assert r.status_code == 401, r.status_code
    challenge = r.headers["WWW-Authenticate"]
    params = dict(p.split("=", 1) for p in challenge.split(" ", 1)[1].split(","))
    params = {k.strip(): v.strip().strip('"') for k, v in params.items()}
    realm = urllib.parse.urlsplit(params["realm"])
    q = {"service": params.get("service", ""), "scope": "repository:multinode/docker:pull"}
    r = requests.get(f"http://{node('node1')}{realm.path}", params=q, auth=AUTH, timeout=10)
    assert r.status_code == 200, f"token: {r.status_code} {r.text[:200]}"
    token = r.json().get("token") or r.json()["access_token"]
    for n in ("node2", "node3"):
        r = requests.get(url(node(n), "/v2/multinode/docker/tags/list"),
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 200, f"bearer token from node1 on {n}: {r.status_code} {r.text[:200]}"
        assert "1" in r.json()["tags"]


def berth_cli(node_name, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BERTH_"))}
    env.update({"BERTH_ACCESS_KEY_ID": KEY_ID, "BERTH_SECRET_ACCESS_KEY": KEY_SECRET,
                "BERTH_ENDPOINT": f"http://{node(node_name)}", "HOME": tmp})
    return run([BERTH, *args], env=env)


def push_layout(host, layout, ref):
    """Pushes the single image of OCI layout `layout` as `ref` with plain HTTP requests; returns its digest."""
    index = json.load(open(os.path.join(layout, "index.json")))
    digest = index["manifests"][0]["digest"]
    blob = lambda d: open(os.path.join(layout, "blobs", "sha256", d.split(":", 1)[1]), "rb").read()  # noqa: E731
    manifest = blob(digest)
    repo, tag = ref.split(":", 1)
    parsed = json.loads(manifest)
    for d in [parsed["config"]["digest"]] + [lay["digest"] for lay in parsed["layers"]]:
        assert put_blob(host, repo, blob(d)) == d
    r = requests.put(url(host, f"/v2/{repo}/manifests/{tag}"), data=manifest, auth=AUTH, timeout=30,
                     headers={"Content-Type": parsed["mediaType"]})
    assert r.status_code == 201, f"manifest PUT: {r.status_code} {r.text[:300]}"
    acked_tags[(repo, tag)] = digest
    return digest


def case_scan_queued_on_one_node_run_by_another():
    repo = "multinode/scanned"
    env = aws_env()
    run(["aws", "ecr", "create-repository", "--repository-name", repo, "--image-scanning-configuration",
         "scanOnPush=true", "--endpoint-url", f"http://{node(QUEUE_ONLY)}"], env=env)
    # Pushed to the node that runs no jobs: the scan on push is queued there.
    digest = push_layout(node(QUEUE_ONLY), FIXTURE, f"{repo}:1")
    deadline = time.time() + 240
    while True:
        jobs = json.loads(berth_cli(QUEUE_ONLY, "jobs", "list", "--kind", "scan", "--json"))["jobs"]
        job = next((j for j in jobs if digest in j["key"] and repo in j["key"]), None)
        if job and job["state"] in ("succeeded", "failed", "cancelled"):
            break
        assert time.time() < deadline, f"the scan job did not finish in time: {job}"
        time.sleep(2)
    shown = json.loads(berth_cli(QUEUE_ONLY, "jobs", "show", str(job["jobId"]), "--json"))["job"]
    assert shown["state"] == "succeeded", f"scan job: {shown}"
    worker = shown.get("worker") or ""
    ran_on = [n for n in NODES if worker.startswith(f"{node(n)}#")]
    assert ran_on and ran_on[0] != QUEUE_ONLY, f"the scan ran on {worker!r}, expected node2 or node3 ({NODES})"
    # The node that ran it logged it, and every node answers with the finished scan.
    with open(os.path.join(tmp, f"{ran_on[0]}.log"), errors="replace") as f:
        plain = (re.sub(r"\x1b\[[0-9;]*m", "", line) for line in f)  # in case the log is coloured
        assert any("job succeeded" in line and f"job={job['jobId']} " in line for line in plain), \
            f"no 'job succeeded' line for job {job['jobId']} in {ran_on[0]}.log"
    for host in (node(QUEUE_ONLY), LB):
        out = json.loads(run(["aws", "ecr", "describe-image-scan-findings", "--repository-name", repo,
                              "--image-id", f"imageDigest={digest}", "--endpoint-url", f"http://{host}"], env=env))
        assert out["imageScanStatus"]["status"] in ("COMPLETE", "ACTIVE"), out["imageScanStatus"]
    log(f"  scan of {digest[:19]}... queued on {QUEUE_ONLY}, run by {ran_on[0]} ({worker})")


class ResumingUpload:
    """A chunked upload that survives the death of whichever node served a request: on any failure it asks
    (through the balancer) where the upload stands and continues from the server's Range."""

    def __init__(self, host, repo, size):
        self.host, self.repo, self.size = host, repo, size
        self.retries = 0

    def chunk(self, off, n):
        # Deterministic content, so any offset can be resent without keeping 200 MiB in memory twice.
        block = hashlib.sha256(f"{off // CHUNK}".encode()).digest() * (CHUNK // 32)
        return block[off % CHUNK: off % CHUNK + n]

    def request(self, method, target, **kw):
        for attempt in range(40):
            try:
                r = requests.request(method, target, auth=AUTH, timeout=120, **kw)
                if r.status_code < 500:
                    return r
                last = f"{r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last = str(e)
            self.retries += 1
            time.sleep(0.5)
            if method != "GET":
                return None  # the caller re-reads the upload's state before sending again
        raise RuntimeError(f"{method} {target}: still failing: {last}")

    def run(self, on_progress):
        h = hashlib.sha256()
        r = self.request("POST", url(self.host, f"/v2/{self.repo}/blobs/uploads/"))
        assert r is not None and r.status_code == 202, r
        loc = urllib.parse.urlsplit(absolute(self.host, r.headers["Location"]))
        status_url = url(self.host, loc.path)
        off = 0
        hashed = 0
        resumes = 0
        while off < self.size:
            n = min(CHUNK, self.size - off)
            piece = self.chunk(off, n)
            r = self.request("PATCH", url(self.host, loc.path) + (f"?{loc.query}" if loc.query else ""),
                             data=on_progress(off, piece), headers={"Content-Type": "application/octet-stream",
                                                                    "Content-Range": f"{off}-{off + n - 1}"})
            if r is None or r.status_code != 202:
                if r is not None:
                    log(f"  PATCH at {off}: {r.status_code} {r.text[:200]}")
                # Where does the upload stand? Resume from the server's Range (the status says what it has).
                s = self.request("GET", status_url)
                assert s.status_code == 204, f"upload status: {s.status_code} {s.text[:200]}"
                # `0-0` is what an empty upload reports (chunks here are never 1 byte long).
                rng = s.headers.get("Range", "0-0")
                end = int(rng.split("-")[1])
                off = end + 1 if end > 0 else 0
                resumes += 1
                assert resumes < 50, f"the upload does not make progress (status {s.status_code} Range {rng})"
                loc = urllib.parse.urlsplit(absolute(self.host, s.headers.get("Location", loc.path)))
                continue
            loc = urllib.parse.urlsplit(absolute(self.host, r.headers["Location"]))
            off += n
        while hashed < self.size:
            n = min(CHUNK, self.size - hashed)
            h.update(self.chunk(hashed, n))
            hashed += n
        digest = "sha256:" + h.hexdigest()
        sep = "&" if loc.query else "?"
        r = self.request("PUT", url(self.host, loc.path) + (f"?{loc.query}" if loc.query else "") +
                         f"{sep}digest={digest}")
        if r is None:  # the PUT's node died: the upload either completed or is still there to complete
            if requests.head(url(self.host, f"/v2/{self.repo}/blobs/{digest}"), auth=AUTH, timeout=30).ok:
                return digest
            r = self.request("PUT", url(self.host, loc.path) + (f"?{loc.query}" if loc.query else "") +
                             f"{sep}digest={digest}")
        assert r is not None and r.status_code == 201, f"PUT: {r and r.status_code} {r and r.text[:300]}"
        return digest


def open_connections(name):
    """Established connections to node `name` (the balancer's connection carrying a PATCH body lives as long as
    the body is being sent; health checks last a millisecond)."""
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{NODES[name]} )"],
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


def case_kill_during_big_push():
    size = BIG_MIB * 1024 * 1024
    victim = {}

    def body(off, piece):
        # Sends the chunk in two halves; at a third of the blob, kills the node reading it between the halves.
        if victim or off < size // 3:
            yield piece
            return
        yield piece[: len(piece) // 2]
        time.sleep(0.3)
        conns = {n: open_connections(n) for n in NODES}
        name = max(conns, key=conns.get)
        victim["name"] = name
        log(f"  SIGKILL {name} while it receives the PATCH at {off // (1024 * 1024)} MiB (connections {conns})")
        procs[name].kill()
        procs[name].wait()
        yield piece[len(piece) // 2:]

    up = ResumingUpload(LB, "multinode/big", size)
    digest = up.run(body)
    assert victim, "no node was killed"
    acked_blobs[digest] = ("multinode/big", size)
    log(f"  {BIG_MIB} MiB pushed through the balancer with {victim['name']} killed, {up.retries} retried requests")
    node_start(victim["name"])


def case_kill_during_manifest_push():
    repo = "multinode/manifests"
    cfg = put_blob(LB, repo, b'{"architecture":"amd64","os":"linux"}')
    lay = put_blob(LB, repo, b"a layer for many tags\n")
    failures = 0
    for i in range(30):
        if i == 10:
            log("  SIGKILL node3 between manifest pushes")
            procs["node3"].kill()
            procs["node3"].wait()
        for attempt in range(5):
            try:
                put_manifest(LB, repo, f"t{i}", (cfg, 37), [(lay, 22)])
                break
            except (RuntimeError, requests.RequestException):
                failures += 1
                time.sleep(0.5)
        else:
            raise RuntimeError(f"tag t{i} never pushed")
    # A kill in the middle of a manifest PUT: send one straight to node1 and kill it while it is in flight.
    import threading

    outcome = {}

    def push():
        try:
            outcome["digest"] = put_manifest(node("node1"), repo, "inflight", (cfg, 37), [(lay, 22)])
        except Exception as e:  # noqa: BLE001 - either outcome is allowed; only an acknowledged one must stay
            outcome["error"] = e

    t = threading.Thread(target=push)
    t.start()
    time.sleep(0.01)
    procs["node1"].kill()
    procs["node1"].wait()
    t.join()
    log(f"  {failures} manifest pushes retried; in-flight push: {'acknowledged' if 'digest' in outcome else 'lost'}")
    node_start("node3")
    node_start("node1")
    wait_for("haproxy sees all nodes", lambda: all(
        requests.get(url(LB, "/v2/"), auth=AUTH, timeout=5).status_code == 200 for _ in range(6)))


def case_postgres_restart():
    repo = "multinode/pgrestart"
    small_image(LB, repo, "before", "before")
    log("  stopping PostgreSQL")
    stop("postgres", signal.SIGINT)  # fast shutdown: connections are terminated
    statuses = []
    try:
        for n in NODES:
            r = requests.get(url(node(n), f"/v2/{repo}/manifests/before"), auth=AUTH, timeout=60,
                             headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
            statuses.append((n, r.status_code, r.headers.get("Retry-After"), r.text[:200]))
    finally:
        if any(code != 503 for _, code, _, _ in statuses) or len(statuses) < 3:
            pg_start()
    for n, code, retry, body in statuses:
        assert code == 503, f"{n} answered {code} while PostgreSQL was down: {body}"
        assert retry, f"{n}: 503 without Retry-After"
        assert "UNAVAILABLE" in body, f"{n}: {body}"
    log(f"  while PostgreSQL was down: {[(n, code, retry) for n, code, retry, _ in statuses]}; starting it again")
    pg_start()

    def recovered():
        return all(requests.get(url(node(n), f"/v2/{repo}/manifests/before"), auth=AUTH, timeout=30,
                                headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).status_code == 200
                   for n in NODES)

    wait_for("recovery after the PostgreSQL restart", recovered, timeout=60)
    small_image(LB, repo, "after", "after")


def case_nothing_lost():
    bad = []
    for digest, (repo, size) in acked_blobs.items():
        r = requests.get(url(LB, f"/v2/{repo}/blobs/{digest}"), auth=AUTH, timeout=300, stream=True)
        if r.status_code != 200:
            bad.append(f"blob {digest} in {repo}: {r.status_code}")
            continue
        h = hashlib.sha256()
        n = 0
        for part in r.iter_content(1 << 20):
            h.update(part)
            n += len(part)
        if "sha256:" + h.hexdigest() != digest or n != size:
            bad.append(f"blob {digest} in {repo}: read back {n} bytes with another digest")
    for (repo, tag), digest in acked_tags.items():
        r = requests.head(url(LB, f"/v2/{repo}/manifests/{tag}"), auth=AUTH, timeout=30, headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json"})
        if r.status_code != 200 or r.headers.get("Docker-Content-Digest") != digest:
            bad.append(f"tag {repo}:{tag}: {r.status_code} {r.headers.get('Docker-Content-Digest')} != {digest}")
    assert not bad, "; ".join(bad[:10])
    log(f"  {len(acked_blobs)} acknowledged blobs and {len(acked_tags)} tags all read back intact")


CASES = [
    ("spread", case_spread),
    ("chunked-across-nodes", case_chunked_across_nodes),
    ("docker", case_docker),
    ("skopeo", case_skopeo),
    ("oras", case_oras),
    ("aws-cli", case_aws_cli),
    ("login-password-and-token", case_login_password_and_token),
    ("scan-queued-on-one-node-run-by-another", case_scan_queued_on_one_node_run_by_another),
    ("kill-during-big-push", case_kill_during_big_push),
    ("kill-during-manifest-push", case_kill_during_manifest_push),
    ("postgres-restart", case_postgres_restart),
    ("nothing-lost", case_nothing_lost),
]


def main():
    if not os.access(BERTH, os.X_OK):
        log(f"FAIL setup: no berth binary at {BERTH}")
        return 1
    passed = failed = 0
    try:
        t0 = time.time()
        pg_setup()
        s3_setup()
        node_start("node1")  # the first node bootstraps the administrator; the others find it
        node_start("node2")
        node_start("node3")
        haproxy_start()
        log(f"setup: PostgreSQL :{PG_PORT}, moto :{S3_PORT}, nodes {NODES}, HAProxy :{LB_PORT} "
            f"({time.time() - t0:.0f}s)")
    except Exception as e:  # noqa: BLE001
        log(f"FAIL setup: {e}")
        cleanup(failed=True)
        return 1
    wanted = sys.argv[1:]
    for name, fn in CASES:
        if wanted and name not in wanted and name != "nothing-lost":
            continue
        t0 = time.time()
        try:
            fn()
            passed += 1
            log(f"ok {name} ({time.time() - t0:.0f}s)")
        except Exception as e:  # noqa: BLE001
            failed += 1
            log(f"FAIL {name}: {e}")
            traceback.print_exc(file=sys.stdout)
    cleanup(failed=bool(failed))
    log(f"multinode: {passed} passed, {failed} failed")
    return 1 if failed else 0


def cleanup(failed):
    for name in ["haproxy", "node1", "node2", "node3", "moto", "postgres"]:
        stop(name, signal.SIGINT if name == "postgres" else signal.SIGTERM)
    if failed:
        for n in NODES:
            path = os.path.join(tmp, f"{n}.log")
            if os.path.exists(path):
                lines = open(path, errors="replace").read().splitlines()[-15:]
                log(f"--- last lines of {n}.log"), [log("  | " + line) for line in lines]
    if os.environ.get("MULTINODE_KEEP") == "1":
        log(f"# kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
