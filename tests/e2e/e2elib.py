"""Shared helpers for the Python e2e cases (standard library + requests).

A Python case file defines CASES = {"name": function} and ends with
`sys.exit(e2elib.main(CASES))`: `--list` prints the names, `NAME` runs one case.
A case fails by raising (CaseFailed or anything else); the last line printed is the
reason the runner shows.

Credentials: when REGISTRY_USER / REGISTRY_PASSWORD are set (scripts/with-registry.sh exports
the administrator's for berth), `creds()` returns them and `http()` / `push_blob()` send them
as Basic auth; without them (Distribution) requests carry no credentials.
"""

import hashlib
import json
import os
import secrets
import sys
import traceback

import requests


class CaseFailed(Exception):
    """A check failed; the message is the reason shown by the runner."""


def registry():
    """HOST:PORT of the registry under test."""
    reg = os.environ.get("REGISTRY", "")
    if not reg:
        raise CaseFailed("REGISTRY (HOST:PORT) is not set")
    return reg


def creds():
    """(user, password) the registry wants, or None when it wants no credentials."""
    user = os.environ.get("REGISTRY_USER", "")
    if not user:
        return None
    return user, os.environ.get("REGISTRY_PASSWORD", "")


def tmpdir():
    """The case's own temp dir (E2E_TMP, created and removed by the runner)."""
    d = os.environ.get("E2E_TMP")
    if not d:
        raise CaseFailed("E2E_TMP is not set (run the case through tests/e2e/run.sh)")
    return d


def repo(base):
    """A repository name of the case's own: e2e/BASE-<8 hex>."""
    return f"e2e/{base}-{secrets.token_hex(4)}"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def expect(cond, msg):
    if not cond:
        raise CaseFailed(msg)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise CaseFailed(f"{what}: expected {expected!r}, got {actual!r}")


def url(path):
    return f"http://{registry()}{path}"


def http(method, path, expect_status=None, **kw):
    """One request to the registry; checks the status when EXPECT_STATUS is given.

    Sends `creds()` as Basic auth unless the caller passes `auth=` (None: anonymous)."""
    kw.setdefault("timeout", 60)
    kw.setdefault("auth", creds())
    r = requests.request(method, url(path), **kw)
    if expect_status is not None:
        wanted = expect_status if isinstance(expect_status, tuple) else (expect_status,)
        if r.status_code not in wanted:
            raise CaseFailed(
                f"{method} {path}: HTTP {r.status_code} (want {'/'.join(map(str, wanted))}): "
                f"{r.text[:300]}"
            )
    return r


def push_blob(name, data):
    """Two-step monolithic upload (POST, then PUT ?digest=). Returns the digest."""
    digest = sha256(data)
    r = http("POST", f"/v2/{name}/blobs/uploads/", 202)
    loc = r.headers["Location"]
    if loc.startswith("/"):
        loc = url(loc)
    sep = "&" if "?" in loc else "?"
    r = requests.put(
        f"{loc}{sep}digest={digest}", data=data, timeout=60, auth=creds(),
        headers={"Content-Type": "application/octet-stream"},
    )
    if r.status_code != 201:
        raise CaseFailed(f"PUT blob {digest}: HTTP {r.status_code}: {r.text[:300]}")
    return digest


def put_manifest(name, ref, manifest, media_type):
    """PUTs MANIFEST (a dict, serialised once) and returns (digest, size, response)."""
    body = json.dumps(manifest, separators=(",", ":")).encode()
    r = http(
        "PUT", f"/v2/{name}/manifests/{ref}", 201,
        data=body, headers={"Content-Type": media_type},
    )
    digest = sha256(body)
    served = r.headers.get("Docker-Content-Digest")
    if served is not None:
        expect_eq(served, digest, "Docker-Content-Digest of the manifest PUT")
    return digest, len(body), r


def main(cases):
    args = sys.argv[1:]
    if args == ["--list"]:
        print("\n".join(cases))
        return 0
    if len(args) != 1 or args[0] not in cases:
        print(f"usage: {sys.argv[0]} --list | {' | '.join(cases)}", file=sys.stderr)
        return 2
    try:
        cases[args[0]]()
    except CaseFailed as e:
        print(str(e), flush=True)
        return 1
    except Exception as e:  # an unexpected error is a failure too, with its traceback
        traceback.print_exc(file=sys.stdout)
        print(f"{type(e).__name__}: {e}", flush=True)
        return 1
    return 0
