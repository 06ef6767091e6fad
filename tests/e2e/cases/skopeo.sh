#!/usr/bin/env bash
# skopeo: copy the scanner fixture (OCI layout; gzip and zstd layers) into the registry and
# back into a fresh layout; the manifest digest and every blob digest must be identical.
# Then skopeo inspect, list-tags, delete (after which inspect must fail). With credentials
# every command gets --creds / --src-creds / --dest-creds.
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init

command -v skopeo >/dev/null || e2e_fail "skopeo not found"
fixture="${E2E_FIXTURE:-$(cd "${E2E_ROOT}/../.." && pwd)/../shared/testdata/fixtures/oci-scanner-fixture}"
[[ -f "${fixture}/index.json" ]] || e2e_fail "fixture layout not found at ${fixture}"

repo="${REGISTRY}/$(e2e_repo fixture)"
back="${E2E_TMP}/back"
tls=(--src-tls-verify=false --dest-tls-verify=false)

# digest_set LAYOUT TAG → "manifest-digest" then sorted "config + layer digests", one a line
digest_set() {
    python3 - "$1" "$2" <<'PY'
import json, os, sys
root, tag = sys.argv[1], sys.argv[2]
def blob(d):
    with open(os.path.join(root, "blobs", *d.split(":", 1)), "rb") as f:
        return f.read()
top = json.load(open(os.path.join(root, "index.json")))
m = [d for d in top["manifests"]
     if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
if len(m) != 1:
    sys.exit(f"tag {tag} not found once in {root}/index.json")
import hashlib
raw = blob(m[0]["digest"])
got = "sha256:" + hashlib.sha256(raw).hexdigest()
if got != m[0]["digest"]:
    sys.exit(f"manifest blob {m[0]['digest']} hashes to {got}")
man = json.loads(raw)
print("manifest", m[0]["digest"])
for d in sorted([man["config"]] + man["layers"], key=lambda d: d["digest"]):
    data = blob(d["digest"])
    h = "sha256:" + hashlib.sha256(data).hexdigest()
    if h != d["digest"] or len(data) != d["size"]:
        sys.exit(f"blob {d['digest']} hashes to {h}, size {len(data)} (want {d['size']})")
    print(d["mediaType"], d["digest"], d["size"])
PY
}

skopeo copy --preserve-digests "${tls[@]}" "${E2E_DEST_CREDS[@]}" \
    "oci:${fixture}:scanner-fixture:1" "docker://${repo}:1"
skopeo copy --preserve-digests "${tls[@]}" "${E2E_SRC_CREDS[@]}" \
    "docker://${repo}:1" "oci:${back}:fixture"

want="$(digest_set "$fixture" scanner-fixture:1)"
got="$(digest_set "$back" fixture)"
if [[ "$want" != "$got" ]]; then
    diff <(echo "$want") <(echo "$got") || true
    e2e_fail "digests differ after the round trip (see diff above)"
fi
grep -q 'zstd' <<<"$got" || e2e_fail "round-tripped manifest lost its zstd layer"
manifest_digest="$(awk '/^manifest /{print $2}' <<<"$want")"

inspect="$(skopeo inspect --tls-verify=false "${E2E_CREDS[@]}" "docker://${repo}:1")"
read -r digest layers < <(python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["Digest"], len(d["Layers"]))' <<<"$inspect")
e2e_expect_eq "$digest" "$manifest_digest" "skopeo inspect Digest"
e2e_expect_eq "$layers" "5" "skopeo inspect layer count"

# a second tag, made registry-to-registry
skopeo copy --preserve-digests "${tls[@]}" "${E2E_SRC_CREDS[@]}" "${E2E_DEST_CREDS[@]}" \
    "docker://${repo}:1" "docker://${repo}:2"
tags="$(skopeo list-tags --tls-verify=false "${E2E_CREDS[@]}" "docker://${repo}" |
    python3 -c 'import json, sys; print(" ".join(sorted(json.load(sys.stdin)["Tags"])))')"
e2e_expect_eq "$tags" "1 2" "skopeo list-tags"

skopeo delete --tls-verify=false "${E2E_CREDS[@]}" "docker://${repo}:1"
if out="$(skopeo inspect --tls-verify=false "${E2E_CREDS[@]}" "docker://${repo}:1" 2>&1)"; then
    e2e_fail "skopeo inspect of ${repo}:1 still succeeds after skopeo delete"
fi
e2e_expect_contains "$out" "manifest unknown" "skopeo inspect of the deleted tag"
if out="$(skopeo inspect --raw --tls-verify=false "${E2E_CREDS[@]}" "docker://${repo}@${manifest_digest}" 2>&1)"; then
    e2e_fail "manifest ${manifest_digest} still served by digest after skopeo delete"
fi
e2e_expect_contains "$out" "manifest unknown" "skopeo inspect of the deleted manifest by digest"
