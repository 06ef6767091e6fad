"""cosign-format keys and signatures, made and checked independently of berth (PyNaCl's libsodium for the
key envelope, cryptography's OpenSSL for ECDSA), as containers/image does it. The signing e2e case uses it
where the machine's skopeo is built without sigstore support (Debian's disable-sigstore.patch).

    python3 cosignlib.py sign KEY PASSFILE REGISTRY REPO DIGEST [tamper]
        decrypts KEY (cosign's ENCRYPTED SIGSTORE PRIVATE KEY) with PASSFILE's first line and pushes a
        signature of DIGEST to REPO's sha256-HEX.sig manifest, keeping the signatures already there (as
        `skopeo copy --sign-by-sigstore-private-key` does); with `tamper`, the payload's bytes are changed
        after signing.
    python3 cosignlib.py verify PUB REGISTRY REPO DIGEST
        exit 0 when a layer of REPO's sha256-HEX.sig verifies with PUB (PEM) over a payload naming DIGEST;
        else prints why and exits 1 (what a policy.json `sigstoreSigned` requirement decides).

Credentials: REGISTRY_USER / REGISTRY_PASSWORD (Basic), when set.
"""

import base64
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request

import nacl.secret
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION = "dev.cosignproject.cosign/signature"


def call(registry, method, path, body=None, headers=None):
    h = dict(headers or {})
    if os.environ.get("REGISTRY_USER"):
        creds = f"{os.environ['REGISTRY_USER']}:{os.environ['REGISTRY_PASSWORD']}".encode()
        h["Authorization"] = "Basic " + base64.b64encode(creds).decode()
    req = urllib.request.Request(f"http://{registry}/v2/{path}", data=body, method=method, headers=h)
    with urllib.request.urlopen(req) as r:
        return r.read()


def sig_tag(digest):
    return digest.replace(":", "-", 1) + ".sig"


def existing_sig(registry, repo, digest):
    try:
        return json.loads(call(registry, "GET", f"{repo}/manifests/{sig_tag(digest)}", headers={"Accept": OCI_MANIFEST}))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def push_blob(registry, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    call(registry, "POST", f"{repo}/blobs/uploads/?digest={digest}", data, {"Content-Type": "application/octet-stream"})
    return {"digest": digest, "size": len(data)}


def load_private_key(pem_path, passphrase):
    text = open(pem_path).read()
    begin, end = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----", "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----"
    body = text.split(begin, 1)[1].split(end, 1)[0]
    envelope = json.loads(base64.b64decode("".join(body.split())))
    kdf, cipher = envelope["kdf"], envelope["cipher"]
    assert kdf["name"] == "scrypt" and cipher["name"] == "nacl/secretbox", envelope
    p = kdf["params"]
    key = hashlib.scrypt(passphrase, salt=base64.b64decode(kdf["salt"]), n=p["N"], r=p["r"], p=p["p"],
                         maxmem=256 * 1024 * 1024, dklen=32)
    # libsodium's crypto_secretbox_open_easy: the ciphertext starts with the 16-byte tag, as Go's secretbox.
    der = nacl.secret.SecretBox(key).decrypt(base64.b64decode(envelope["ciphertext"]),
                                             base64.b64decode(cipher["nonce"]))
    return serialization.load_der_private_key(der, password=None)


def sign(key_path, pass_path, registry, repo, digest, tamper=False):
    passphrase = open(pass_path, "rb").read().split(b"\n", 1)[0]
    key = load_private_key(key_path, passphrase)
    payload = json.dumps({
        "critical": {"identity": {"docker-reference": f"{registry}/{repo}"},
                     "image": {"docker-manifest-digest": digest},
                     "type": "cosign container image signature"},
        "optional": {"creator": "berth e2e cosignlib"},
    }, separators=(",", ":")).encode()
    signature = base64.b64encode(key.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()
    if tamper:
        payload = payload.replace(b"cosignlib", b"cosignlib, changed")
    layer = {"mediaType": SIMPLE_SIGNING, **push_blob(registry, repo, payload), "annotations": {ANNOTATION: signature}}
    old = existing_sig(registry, repo, digest)
    layers = (old or {}).get("layers", []) + [layer]
    config = json.dumps({"architecture": "", "os": "", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, **push_blob(registry, repo, config)}, "layers": layers}
    call(registry, "PUT", f"{repo}/manifests/{sig_tag(digest)}", json.dumps(manifest).encode(),
         {"Content-Type": OCI_MANIFEST})


def verify(pub_path, registry, repo, digest):
    public = serialization.load_pem_public_key(open(pub_path, "rb").read())
    sig = existing_sig(registry, repo, digest)
    if sig is None:
        return "no signature"
    for layer in sig.get("layers", []):
        if layer.get("mediaType") != SIMPLE_SIGNING:
            continue
        payload = call(registry, "GET", f"{repo}/blobs/{layer['digest']}")
        try:
            public.verify(base64.b64decode(layer["annotations"][ANNOTATION]), payload, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, KeyError):
            continue
        claims = json.loads(payload)["critical"]
        if claims["type"] == "cosign container image signature" and claims["image"]["docker-manifest-digest"] == digest:
            return None
    return "no valid signature by this key"


def main(argv):
    if len(argv) in (7, 8) and argv[1] == "sign":
        sign(*argv[2:7], tamper=len(argv) == 8 and argv[7] == "tamper")
        return 0
    if len(argv) == 6 and argv[1] == "verify":
        why = verify(*argv[2:6])
        if why:
            print(f"refused: {why}")
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
