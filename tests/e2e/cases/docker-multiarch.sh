#!/usr/bin/env bash
# docker-multiarch: push an OCI image index (linux/amd64 + linux/arm64, built as an OCI
# layout by ocilayout.py) with `skopeo copy --all`, then `docker pull` the index (docker
# must pick the amd64 child), run it, and read the index back with
# `docker manifest inspect --insecure` and `skopeo inspect --raw`. With credentials: skopeo
# --creds/--dest-creds, docker login.
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init

command -v docker >/dev/null || e2e_fail "docker CLI not found"
command -v skopeo >/dev/null || e2e_fail "skopeo not found"

ref="${REGISTRY}/$(e2e_repo multiarch):1"
layout="${E2E_TMP}/layout"
index_digest="$(python3 "${E2E_ROOT}/ocilayout.py" multiarch "$layout" multi)"

skopeo copy --all --preserve-digests --dest-tls-verify=false "${E2E_DEST_CREDS[@]}" \
    "oci:${layout}:multi" "docker://${ref}"

raw="$(skopeo inspect --raw --tls-verify=false "${E2E_CREDS[@]}" "docker://${ref}")"
raw_digest="sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)"
e2e_expect_eq "$raw_digest" "$index_digest" "digest of the index served for the tag"

e2e_docker_login
e2e_defer "docker rmi -f '${ref}'"
docker pull "$ref"
arch="$(docker image inspect --format '{{.Os}}/{{.Architecture}}' "$ref")"
e2e_expect_eq "$arch" "linux/amd64" "platform of the pulled image"
repo_digests="$(docker image inspect --format '{{join .RepoDigests " "}}' "$ref")"
e2e_expect_contains "$repo_digests" "$index_digest" "pulled image's repo digest (the index)"
out="$(docker run --rm --network none "$ref")"
e2e_expect_eq "$out" "hello from amd64" "docker run output"

inspect="$(docker manifest inspect --insecure "$ref")"
summary="$(python3 -c '
import json, sys
doc = json.load(sys.stdin)
plats = sorted(m["platform"]["os"] + "/" + m["platform"]["architecture"] for m in doc.get("manifests", []))
print(doc.get("mediaType"), " ".join(plats))
' <<<"$inspect")"
e2e_expect_eq "$summary" "application/vnd.oci.image.index.v1+json linux/amd64 linux/arm64" \
    "docker manifest inspect (mediaType and platforms)"
