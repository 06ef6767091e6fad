"""oras cases: artifacts pushed with the oras Python SDK, and the referrers API.

oras            push an artifact with a custom artifact type (its config media type) through
                the SDK, pull it back through the SDK, then push a second artifact whose
                `subject` is the first, also through the SDK.
oras-referrers  the same pushes, plus a hand-built OCI 1.1 artifact manifest (with an explicit
                `artifactType` and the empty config) that refers to the same subject; both
                must be listed by GET /v2/<name>/referrers/<digest>, and the `artifactType`
                filter must select one of them. Distribution 2.8 has no referrers API: the
                runner expects this case to fail there, never for berth.

With credentials (REGISTRY_USER, berth) the oras client uses the SDK's `basic` auth backend and
logs in first (`OrasClient.login`, its auth file inside the case's temp dir), and the plain HTTP
checks send Basic auth. Not the default `token` backend: oras-py (0.2.43) keeps the first bearer
token it gets (scoped `pull` by the HEAD that starts a push) and asks for a new one only on 403,
so its pushes stall on the 401 `insufficient_scope` a token registry answers to the upload POST.
cases/auth.sh pulls with the token backend.
"""

import json
import os
import secrets
import sys

import oras.client
import oras.oci

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import e2elib  # noqa: E402
from e2elib import CaseFailed, expect, expect_eq, http  # noqa: E402

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
ARTIFACT_TYPE = "application/vnd.berth.e2e.artifact.v1+json"
SIGNATURE_TYPE = "application/vnd.berth.e2e.signature.v1+json"
SBOM_TYPE = "application/vnd.berth.e2e.sbom.v1+json"
PAYLOAD_TYPE = "application/vnd.berth.e2e.payload.v1"


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def client():
    """An oras client, logged in when the registry wants credentials."""
    creds = e2elib.creds()
    c = oras.client.OrasClient(hostname=e2elib.registry(), insecure=True,
                               auth_backend="basic" if creds else "token")
    if creds:
        user, password = creds
        # Writes the credentials to a docker-style auth file of the case's own (never to
        # ~/.docker) and sets them on the client.
        c.login(username=user, password=password, hostname=e2elib.registry(),
                config_path=os.path.join(e2elib.tmpdir(), "oras-auth.json"))
    return c


def get_manifest(name, ref):
    r = http("GET", f"/v2/{name}/manifests/{ref}", 200, headers={"Accept": OCI_MANIFEST})
    return r.content, json.loads(r.content)


def oras_push(name, tag, files, config_type, subject=None, annotations=None):
    """Pushes FILES (path, media type) with the SDK; returns (digest, size) of the manifest."""
    cfg = write(os.path.join(e2elib.tmpdir(), f"config-{tag}.json"),
                json.dumps({"berth-e2e": tag}).encode())
    resp = client().push(
        target=f"{e2elib.registry()}/{name}:{tag}",
        files=[f"{path}:{media_type}" for path, media_type in files],
        manifest_config=f"{cfg}:{config_type}",
        manifest_annotations=annotations,
        subject=subject,
        disable_path_validation=True,
        quiet=True,
    )
    expect_eq(resp.status_code, 201, f"status of the oras manifest push of {tag}")
    raw, _ = get_manifest(name, tag)
    digest = e2elib.sha256(raw)
    served = resp.headers.get("Docker-Content-Digest")
    if served:
        expect_eq(served, digest, f"Docker-Content-Digest of the {tag} push")
    return digest, len(raw)


def push_artifact_and_signature(base):
    """The oras part shared by both cases. Returns (name, artifact (digest, size), sig digest)."""
    name = e2elib.repo(base)
    tmp = e2elib.tmpdir()
    payload = secrets.token_bytes(4096)
    path = write(os.path.join(tmp, "payload.bin"), payload)

    art_digest, art_size = oras_push(
        name, "v1", [(path, PAYLOAD_TYPE)], ARTIFACT_TYPE,
        annotations={"org.opencontainers.image.description": "berth e2e artifact"},
    )
    _, man = get_manifest(name, art_digest)
    expect_eq(man["config"]["mediaType"], ARTIFACT_TYPE, "artifact type (config.mediaType)")
    expect_eq(man["layers"][0]["mediaType"], PAYLOAD_TYPE, "layer media type")

    out = os.path.join(tmp, "pulled")
    files = client().pull(target=f"{e2elib.registry()}/{name}:v1", outdir=out)
    expect_eq([os.path.basename(f) for f in files], ["payload.bin"], "files pulled by oras")
    with open(files[0], "rb") as f:
        expect(f.read() == payload, "pulled payload differs from the pushed one")

    sig_path = write(os.path.join(tmp, "signature.txt"), b"signed by berth e2e\n")
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=art_digest, size=art_size)
    sig_digest, _ = oras_push(
        name, "sig", [(sig_path, "text/plain")], SIGNATURE_TYPE, subject=subject,
        annotations={"berth.e2e/kind": "signature"},
    )
    _, sig = get_manifest(name, sig_digest)
    expect_eq(sig.get("subject", {}).get("digest"), art_digest, "subject of the signature")
    return name, (art_digest, art_size), sig_digest


def case_oras():
    push_artifact_and_signature("oras")


def push_sbom_by_hand(name, art_digest, art_size):
    """An OCI 1.1 artifact manifest with artifactType, the empty config and a subject."""
    empty = e2elib.push_blob(name, b"{}")
    layer = e2elib.push_blob(name, b'{"bomFormat":"CycloneDX","components":[]}')
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SBOM_TYPE,
        "config": {"mediaType": OCI_EMPTY, "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/vnd.cyclonedx+json", "digest": layer,
                    "size": 41}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": art_digest, "size": art_size},
        "annotations": {"berth.e2e/kind": "sbom"},
    }
    digest, size, resp = e2elib.put_manifest(name, "sbom", manifest, OCI_MANIFEST)
    expect_eq(resp.headers.get("OCI-Subject"), art_digest,
              "OCI-Subject header of a manifest PUT with a subject")
    return digest, size


def referrers(name, digest, artifact_type=None):
    params = {"artifactType": artifact_type} if artifact_type else None
    r = http("GET", f"/v2/{name}/referrers/{digest}", 200, params=params)
    ctype = r.headers.get("Content-Type", "").split(";")[0].strip()
    expect_eq(ctype, OCI_INDEX, "Content-Type of the referrers response")
    doc = r.json()
    expect_eq(doc.get("mediaType"), OCI_INDEX, "mediaType of the referrers index")
    expect_eq(doc.get("schemaVersion"), 2, "schemaVersion of the referrers index")
    return doc.get("manifests") or [], r.headers


def case_referrers():
    name, (art_digest, art_size), sig_digest = push_artifact_and_signature("referrers")
    sbom_digest, sbom_size = push_sbom_by_hand(name, art_digest, art_size)

    found, _ = referrers(name, art_digest)
    by_digest = {d["digest"]: d for d in found}
    expect_eq(sorted(by_digest), sorted([sig_digest, sbom_digest]),
              "referrers of the artifact (digests)")
    sig, sbom = by_digest[sig_digest], by_digest[sbom_digest]
    expect_eq(sig.get("artifactType"), SIGNATURE_TYPE,
              "artifactType of the oras-pushed referrer (from config.mediaType)")
    expect_eq(sbom.get("artifactType"), SBOM_TYPE, "artifactType of the hand-built referrer")
    expect_eq(sbom.get("mediaType"), OCI_MANIFEST, "mediaType of the referrer descriptor")
    expect_eq(sbom.get("size"), sbom_size, "size of the referrer descriptor")
    expect_eq((sbom.get("annotations") or {}).get("berth.e2e/kind"), "sbom",
              "annotations of the referrer descriptor")

    found, headers = referrers(name, art_digest, SBOM_TYPE)
    expect_eq([d["digest"] for d in found], [sbom_digest], "referrers filtered by artifactType")
    applied = headers.get("OCI-Filters-Applied", "")
    expect("artifactType" in applied,
           f"OCI-Filters-Applied should name artifactType, got {applied!r}")

    found, _ = referrers(name, art_digest, "application/vnd.berth.e2e.none")
    expect_eq(found, [], "referrers filtered by an artifactType nobody has")

    # A digest with no referrers (even an unknown one) answers 200 with an empty index.
    found, _ = referrers(name, sbom_digest)
    expect_eq(found, [], "referrers of a manifest nobody refers to")
    found, _ = referrers(name, e2elib.sha256(secrets.token_bytes(16)))
    expect_eq(found, [], "referrers of an unknown digest")


CASES = {"oras": case_oras, "oras-referrers": case_referrers}

if __name__ == "__main__":
    sys.exit(e2elib.main(CASES))
