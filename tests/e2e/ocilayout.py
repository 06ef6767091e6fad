"""Build small OCI image layouts from scratch (standard library only).

Used by the e2e cases to make images without pulling any base image.

    python3 ocilayout.py multiarch DIR TAG
        writes an OCI layout at DIR whose TAG is an image index with two children:
        linux/amd64 (Debian's static /bin/busybox, CMD prints "hello from amd64") and
        linux/arm64 (a text file only; never run). Prints the index digest.

    python3 ocilayout.py single DIR TAG MESSAGE
        writes (or adds to) an OCI layout at DIR whose TAG is one linux/amd64 image (Debian's static
        /bin/busybox, CMD prints MESSAGE; MESSAGE makes the image distinct). Prints its digest.
"""

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def init_layout(root):
    os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def add_blob(root, data, media_type):
    """Stores DATA under blobs/ and returns its descriptor."""
    digest = sha256(data)
    path = os.path.join(root, "blobs", "sha256", digest.split(":", 1)[1])
    with open(path, "wb") as f:
        f.write(data)
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def make_layer(files):
    """FILES maps a path to (bytes, mode). Returns (gzip bytes, diff_id of the tar)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = set()
        for path in sorted(files):
            parts = path.strip("/").split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
            data, mode = files[path]
            info = tarfile.TarInfo(path.strip("/"))
            info.size = len(data)
            info.mode = mode
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0), sha256(raw)


def add_image(root, arch, files, cmd, os_name="linux"):
    """Adds one image (one layer) and returns its manifest descriptor with a platform."""
    layer_gz, diff_id = make_layer(files)
    layer = add_blob(root, layer_gz, OCI_LAYER_GZIP)
    config = {
        "architecture": arch,
        "os": os_name,
        "config": {"Cmd": cmd},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "berth e2e ocilayout.py"}],
    }
    config_desc = add_blob(root, canonical_json(config), OCI_CONFIG)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config_desc,
        "layers": [layer],
    }
    desc = add_blob(root, canonical_json(manifest), OCI_MANIFEST)
    desc["platform"] = {"architecture": arch, "os": os_name}
    return desc


def write_index_manifest(root, children, tag):
    """Stores an image index of CHILDREN as a blob and tags it TAG in index.json."""
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
    desc = add_blob(root, canonical_json(index), OCI_INDEX)
    desc["annotations"] = {REF_NAME: tag}
    top = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(top, f)
    return desc["digest"]


def build_multiarch(root, tag, busybox="/bin/busybox"):
    init_layout(root)
    with open(busybox, "rb") as f:
        bb = f.read()
    amd64 = add_image(
        root, "amd64", {"bin/busybox": (bb, 0o755)},
        ["/bin/busybox", "echo", "hello from amd64"],
    )
    arm64 = add_image(
        root, "arm64", {"hello.txt": (b"this is the arm64 child\n", 0o644)},
        ["/bin/false"],
    )
    return write_index_manifest(root, [amd64, arm64], tag)


def build_single(root, tag, message, busybox="/bin/busybox"):
    init_layout(root)
    with open(busybox, "rb") as f:
        bb = f.read()
    desc = add_image(root, "amd64", {"bin/busybox": (bb, 0o755)}, ["/bin/busybox", "echo", message])
    desc.pop("platform")
    desc["annotations"] = {REF_NAME: tag}
    index_path = os.path.join(root, "index.json")
    top = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    if os.path.exists(index_path):
        with open(index_path) as f:
            top = json.load(f)
    top["manifests"] = [m for m in top["manifests"] if m.get("annotations", {}).get(REF_NAME) != tag] + [desc]
    with open(index_path, "w") as f:
        json.dump(top, f)
    return desc["digest"]


def main(argv):
    if len(argv) == 4 and argv[1] == "multiarch":
        print(build_multiarch(argv[2], argv[3]))
        return 0
    if len(argv) == 5 and argv[1] == "single":
        print(build_single(argv[2], argv[3], argv[4]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
