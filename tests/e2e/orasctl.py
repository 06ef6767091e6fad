"""A tiny command line over the oras Python SDK, for shell cases (cases/auth.sh).

    python3 orasctl.py push REF FILE MEDIA_TYPE [--user USER] [--auth token|basic]
    python3 orasctl.py pull REF OUTDIR [--user USER] [--auth token|basic]

REF is HOST:PORT/NAME:TAG (plain HTTP). With --user the client logs in first, the password
being the first line of stdin (`OrasClient.login`, writing a docker-style auth file under
$E2E_TMP, never ~/.docker); without it the client is anonymous. --auth picks the SDK's auth
backend: `token` (default; Docker token auth: the credentials are exchanged at the realm of
the 401 challenge for a bearer token) or `basic` (Basic credentials on every request).
oras-py 0.2.43 cannot push with `token` to a registry that scopes its tokens: it keeps the
first token (`pull`, from the HEAD that starts a push) and asks for a new one only on 403, not
on the 401 `insufficient_scope` the upload POST gets; push with `basic`.

push prints `pushed REF HTTP-STATUS`, pull prints `pulled PATH` per file. Any failure prints
`oras error: TYPE: MESSAGE` and exits 1.
"""

import argparse
import os
import sys

import oras.client


def client(registry, user, auth):
    c = oras.client.OrasClient(hostname=registry, insecure=True, auth_backend=auth)
    if user:
        password = sys.stdin.readline().rstrip("\n")
        tmp = os.environ.get("E2E_TMP") or "."
        c.login(username=user, password=password, hostname=registry,
                config_path=os.path.join(tmp, "oras-auth.json"))
    return c


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    push = sub.add_parser("push")
    push.add_argument("ref")
    push.add_argument("file")
    push.add_argument("media_type")
    push.add_argument("--user")
    push.add_argument("--auth", choices=["token", "basic"], default="token")
    pull = sub.add_parser("pull")
    pull.add_argument("ref")
    pull.add_argument("outdir")
    pull.add_argument("--user")
    pull.add_argument("--auth", choices=["token", "basic"], default="token")
    args = p.parse_args()
    registry = args.ref.split("/", 1)[0]
    try:
        c = client(registry, args.user, args.auth)
        if args.cmd == "push":
            resp = c.push(target=args.ref, files=[f"{args.file}:{args.media_type}"],
                          disable_path_validation=True, quiet=True)
            if resp.status_code != 201:
                raise RuntimeError(f"manifest push answered HTTP {resp.status_code}")
            print(f"pushed {args.ref} {resp.status_code}")
        else:
            files = c.pull(target=args.ref, outdir=args.outdir)
            if not files:
                raise RuntimeError("pull returned no files")
            for f in files:
                print(f"pulled {f}")
    except Exception as e:  # noqa: BLE001 — every failure is reported the same way
        print(f"oras error: {type(e).__name__}: {e}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
