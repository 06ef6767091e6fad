#!/usr/bin/env bash
# ecr: the AWS CLI against berth's ECR-compatible API, end to end with docker:
#   aws ecr get-login-password | docker login --username AWS --password-stdin
#   → docker push → aws ecr describe-images shows it → aws ecr batch-delete-image
#   → docker pull fails cleanly.
# Run with AWS CLI v1 (pip's awscli, first on PATH) and, for a smoke subset, v2 (Debian's
# awscli at /usr/bin/aws) when it is installed. berth only (xfail on Distribution): it signs
# with the administrator's access key that scripts/with-registry.sh exports
# (BERTH_ACCESS_KEY_ID / BERTH_SECRET_ACCESS_KEY, BERTH_ENDPOINT).
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init

[[ -n "${BERTH_ENDPOINT:-}" && -n "${BERTH_ACCESS_KEY_ID:-}" ]] ||
    e2e_fail "needs berth: no access key exported (BERTH_ENDPOINT, BERTH_ACCESS_KEY_ID); this registry has no ECR API"
command -v aws >/dev/null || e2e_fail "the AWS CLI is missing (pip install awscli)"
command -v docker >/dev/null || e2e_fail "docker CLI not found"

e2e_aws_env

ecr() { # AWS-BINARY ARGS...: one `aws ecr` call against berth, JSON output
    local bin="$1"
    shift
    "$bin" ecr "$@" --endpoint-url "$BERTH_ENDPOINT" --output json
}

v1="$(command -v aws)"
repo="e2e/ecr-$(e2e_rand)"
ref="${REGISTRY}/${repo}:1"

e2e_step "aws ($("$v1" --version 2>&1)) create-repository"
ecr "$v1" create-repository --repository-name "$repo" | field 'd["repository"]["repositoryUri"]'
e2e_defer "ecr '$v1' delete-repository --repository-name '$repo' --force >/dev/null 2>&1 || true"

e2e_step "aws ecr get-login-password | docker login --username AWS --password-stdin"
ecr "$v1" get-login-password | docker login "$REGISTRY" --username AWS --password-stdin
e2e_defer "docker logout '${REGISTRY}' >/dev/null 2>&1 || true"

e2e_step "docker push ${ref}"
e2e_busybox_round_trip "$ref" "hello from the ecr case"
digest="$pushed_digest"

e2e_step "aws ecr describe-images shows the pushed image"
described="$(ecr "$v1" describe-images --repository-name "$repo")"
echo "$described"
e2e_expect_eq "$(field 'd["imageDetails"][0]["imageDigest"]' <<<"$described")" "$digest" "describe-images digest"
e2e_expect_eq "$(field 'd["imageDetails"][0]["imageTags"]' <<<"$described")" "['1']" "describe-images tags"

e2e_step "aws ecr batch-delete-image"
deleted="$(ecr "$v1" batch-delete-image --repository-name "$repo" --image-ids "imageDigest=${digest}")"
echo "$deleted"
e2e_expect_eq "$(field 'len(d["imageIds"]), d["failures"]' <<<"$deleted")" "(1, [])" "batch-delete-image result"

e2e_step "docker pull of the deleted image fails cleanly"
docker rmi -f "$ref" >/dev/null 2>&1 || true
if out="$(docker pull "$ref" 2>&1)"; then
    e2e_fail "docker pull of a deleted image succeeded: $out"
fi
echo "$out"
e2e_expect_contains "$out" "manifest unknown" "docker pull error"

# CLI v2 (Debian's awscli) for a smoke subset: same signatures, same JSON.
v2=/usr/bin/aws
if [[ -x "$v2" ]] && "$v2" --version 2>&1 | grep -q '^aws-cli/2'; then
    e2e_step "aws ($("$v2" --version 2>&1)) smoke subset"
    ecr "$v2" describe-repositories --repository-names "$repo" | field 'd["repositories"][0]["repositoryName"]'
    e2e_expect_eq "$(ecr "$v2" list-images --repository-name "$repo" | field 'd["imageIds"]')" "[]" "v2 list-images"
    password="$(ecr "$v2" get-login-password)"
    code="$(curl -s -o /dev/null -w '%{http_code}' -u "AWS:${password}" "http://${REGISTRY}/v2/${repo}/tags/list")"
    e2e_expect_eq "$code" "200" "v2 login password on /v2"
    if out="$(ecr "$v2" describe-repositories --repository-names e2e/none-here 2>&1)"; then
        e2e_fail "v2 describe of a missing repository succeeded"
    fi
    e2e_expect_contains "$out" "RepositoryNotFoundException" "v2 error type"
else
    e2e_skip "AWS CLI v2 (/usr/bin/aws from Debian's awscli) is not installed"
fi
echo "ecr: ok"
