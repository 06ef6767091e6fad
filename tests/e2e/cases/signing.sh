#!/usr/bin/env bash
# signing: image signatures in cosign's format with real clients (berth only).
#
#   1. `berth signing create-key --export` makes berth's managed key `release` and writes it in cosign's
#      format (encrypted private key + PUBLIC KEY); a second exported key plays a CI system's key: berth
#      forgets its private half and trusts its public key (`berth signing trust-key`).
#   2. `aws ecr put-signing-configuration`: images pushed to e2e/signing-auto-* are signed by `release`;
#      a skopeo push there is reported COMPLETE by `aws ecr describe-image-signing-status`.
#   3. `skopeo copy --sign-by-sigstore-private-key` (the CI key) pushes a client-signed image.
#   4. skopeo with a policy.json requiring `sigstoreSigned` by berth's public key (registries.d:
#      use-sigstore-attachments) pulls the berth-signed image and refuses an unsigned one and one whose
#      signature payload was tampered with.
#   Debian's skopeo 1.9 is built without sigstore ("sigstore disabled"): there, 3 and 4 are done by
#   tests/e2e/cosignlib.py (libsodium + OpenSSL, containers/image's layout) and the case says so.
#   5. `berth signing require`: berth itself refuses the unsigned and the tampered image (403 DENIED naming
#      the missing signature) and serves the client-signed one.
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init

[[ -n "${BERTH_ENDPOINT:-}" && -n "${BERTH_ACCESS_KEY_ID:-}" ]] ||
    e2e_fail "needs berth: no access key exported (BERTH_ENDPOINT, BERTH_ACCESS_KEY_ID); this registry has no signing"
[[ -n "${BERTH_BIN:-}" && -x "${BERTH_BIN}" ]] || e2e_fail "BERTH_BIN (the berth CLI) not set or not executable: '${BERTH_BIN:-}'"
e2e_auth || e2e_fail "needs berth's administrator credentials (REGISTRY_USER / REGISTRY_PASSWORD)"
command -v aws >/dev/null || e2e_fail "the AWS CLI is missing (pip install awscli)"
command -v skopeo >/dev/null || e2e_fail "skopeo not found"
[[ -x /bin/busybox ]] || e2e_fail "/bin/busybox missing (apt-get install busybox-static)"

e2e_aws_env
ecr() { aws ecr "$@" --endpoint-url "$BERTH_ENDPOINT" --output json; }
berth() { "$BERTH_BIN" "$@"; }
indent() { sed 's/^/  /'; }

sfx="$(e2e_rand)"
release="e2e_release_${sfx}"
ci="e2e_ci_${sfx}"
auto="e2e/signing-auto-${sfx}"
client="e2e/signing-client-${sfx}"
unsigned="e2e/signing-unsigned-${sfx}"
tls=(--src-tls-verify=false --dest-tls-verify=false)
layout="${E2E_TMP}/layout"
cd "$E2E_TMP"

for t in auto client unsigned tampered; do
    python3 "${E2E_ROOT}/ocilayout.py" single "$layout" "$t" "hello ${t} ${sfx}" >/dev/null
done

e2e_step "keys in cosign's format"
printf 'e2e-pass-%s\n' "$sfx" >pass
berth signing create-key --name "$release" --export --passphrase-file pass --output-key-prefix release >/dev/null
e2e_defer "'$BERTH_BIN' signing delete-key --name '$release' >/dev/null 2>&1"
grep -q 'BEGIN ENCRYPTED SIGSTORE PRIVATE KEY' release.key || e2e_fail "release.key is not cosign's encrypted format"
grep -q 'BEGIN PUBLIC KEY' release.pub || e2e_fail "release.pub is not a PEM public key"
berth signing create-key --name "${ci}_gen" --export --passphrase-file pass --output-key-prefix ci >/dev/null
berth signing delete-key --name "${ci}_gen" >/dev/null
berth signing trust-key --name "$ci" --public-key-file ci.pub
e2e_defer "'$BERTH_BIN' signing delete-key --name '$ci' >/dev/null 2>&1"
berth signing list-keys | indent

e2e_step "signing configuration (ECR API)"
account="$(ecr describe-registry | field 'd["registryId"]')"
profile="arn:aws:signer:us-east-1:${account}:/signing-profiles/${release}"
ecr put-signing-configuration --signing-configuration \
    "{\"rules\":[{\"signingProfileArn\":\"${profile}\",\"repositoryFilters\":[{\"filter\":\"e2e/signing-auto-${sfx}\",\"filterType\":\"WILDCARD_MATCH\"}]}]}" >/dev/null
e2e_defer "aws ecr delete-signing-configuration --endpoint-url '$BERTH_ENDPOINT' >/dev/null 2>&1"
got="$(ecr get-signing-configuration | field 'd["signingConfiguration"]["rules"][0]["signingProfileArn"]')"
e2e_expect_eq "$got" "$profile" "get-signing-configuration"

e2e_step "berth signs a push to a matching repository"
skopeo copy -q "${tls[@]}" "${E2E_DEST_CREDS[@]}" "oci:${layout}:auto" "docker://${REGISTRY}/${auto}:1"
status=""
for _ in $(seq 1 60); do
    status="$(ecr describe-image-signing-status --repository-name "$auto" --image-id imageTag=1 |
        field '",".join(s["status"] for s in d["signingStatuses"])')"
    [[ "$status" == "COMPLETE" ]] && break
    sleep 0.5
done
e2e_expect_eq "$status" "COMPLETE" "signing status of the auto-signed image"
berth signing status "$auto" 1 | indent

e2e_step "a client signs with the exported key"
# skopeo signs and verifies sigstore signatures unless its containers/image was built without them (Debian's
# disable-sigstore.patch: "sigstore disabled"); then tests/e2e/cosignlib.py does what it would (libsodium for
# the key envelope, OpenSSL for ECDSA, the same .sig layout): still clients independent of berth's code.
cosign=(python3 "${E2E_ROOT}/cosignlib.py")
sigstore=1
if ! out="$(skopeo copy -q "${tls[@]}" "${E2E_DEST_CREDS[@]}" --sign-by-sigstore-private-key ci.key \
    --sign-passphrase-file pass --digestfile client.digest "oci:${layout}:client" "docker://${REGISTRY}/${client}:1" 2>&1)"; then
    echo "$out" | indent
    [[ "$out" == *"sigstore disabled"* ]] || e2e_fail "skopeo copy --sign-by-sigstore-private-key failed"
    sigstore=0
    e2e_skip "this skopeo is built without sigstore (Debian); client signing and policy.json verification done by cosignlib.py"
    skopeo copy -q "${tls[@]}" "${E2E_DEST_CREDS[@]}" --digestfile client.digest \
        "oci:${layout}:client" "docker://${REGISTRY}/${client}:1"
    "${cosign[@]}" sign ci.key pass "$REGISTRY" "$client" "$(cat client.digest)"
fi
sigs="$(skopeo list-tags --tls-verify=false "${E2E_CREDS[@]}" "docker://${REGISTRY}/${client}" |
    field '" ".join(t for t in d["Tags"] if t.endswith(".sig"))')"
e2e_expect_eq "$sigs" "$(sed 's/:/-/; s/$/.sig/' client.digest)" "the client's signature tag"
skopeo copy -q "${tls[@]}" "${E2E_DEST_CREDS[@]}" "oci:${layout}:unsigned" "docker://${REGISTRY}/${unsigned}:1"

e2e_step "a tampered signature"
# Signed with berth's exported key, then the payload's bytes changed: the signature no longer verifies.
tampered="${auto}-tampered"
skopeo copy -q "${tls[@]}" "${E2E_DEST_CREDS[@]}" --digestfile tampered.digest \
    "oci:${layout}:tampered" "docker://${REGISTRY}/${tampered}:1"
"${cosign[@]}" sign release.key pass "$REGISTRY" "$tampered" "$(cat tampered.digest)" tamper

e2e_step "clients verify berth's signature and refuse unsigned and tampered images"
if ((sigstore)); then
    mkdir -p registries.d
    cat >registries.d/default.yaml <<'YAML'
default-docker:
  use-sigstore-attachments: true
YAML
    require_release="{\"type\":\"sigstoreSigned\",\"keyPath\":\"${E2E_TMP}/release.pub\",\"signedIdentity\":{\"type\":\"matchRepository\"}}"
    cat >policy.json <<JSON
{"default": [{"type": "reject"}],
 "transports": {"docker": {
   "${REGISTRY}/${auto}": [${require_release}],
   "${REGISTRY}/${unsigned}": [${require_release}],
   "${REGISTRY}/${tampered}": [${require_release}],
   "${REGISTRY}/${client}": [{"type":"sigstoreSigned","keyPath":"${E2E_TMP}/ci.pub","signedIdentity":{"type":"matchRepository"}}]
 }}}
JSON
    verify=(skopeo --policy policy.json --registries.d registries.d copy -q --src-tls-verify=false "${E2E_SRC_CREDS[@]}")
    accepts() { "${verify[@]}" "docker://${REGISTRY}/$2:1" "oci:${E2E_TMP}/out:x"; }
else
    accepts() { "${cosign[@]}" verify "$1" "$REGISTRY" "$2" "$(skopeo inspect --tls-verify=false "${E2E_CREDS[@]}" \
        --format '{{.Digest}}' "docker://${REGISTRY}/$2:1")"; }
fi
accepts release.pub "$auto"
accepts ci.pub "$client"
for refused in "$unsigned" "$tampered"; do
    if out="$(accepts release.pub "$refused" 2>&1)"; then
        e2e_fail "the client's verification accepted ${refused}"
    fi
    echo "$out" | indent
done

e2e_step "berth refuses images without a trusted signature"
berth signing require --repository "$unsigned" --key "$release"
berth signing require --repository "$tampered" --key "$release"
berth signing require --repository "$client" --key "$ci"
for refused in "$unsigned" "$tampered"; do
    if out="$(skopeo inspect --tls-verify=false "${E2E_CREDS[@]}" "docker://${REGISTRY}/${refused}:1" 2>&1)"; then
        e2e_fail "berth served ${refused} despite its signature requirement"
    fi
    echo "$out" | indent
    e2e_expect_contains "$out" "not signed by a trusted key" "berth's refusal of ${refused}"
    e2e_expect_contains "$out" "denied" "berth's refusal of ${refused} (DENIED)"
done
skopeo inspect --tls-verify=false "${E2E_CREDS[@]}" "docker://${REGISTRY}/${client}:1" >/dev/null
# The signatures themselves stay readable, so that clients can verify.
accepts ci.pub "$client"
