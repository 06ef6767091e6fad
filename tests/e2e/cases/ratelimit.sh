#!/usr/bin/env bash
# ratelimit: `docker pull` meeting berth's manifest pull limit, as Docker Hub users meet theirs. berth only
# (it starts a berth of its own with BERTH_RATE_LIMIT_MANIFEST_PULLS=2/1h next to the shared registry, from
# BERTH_BIN; Distribution has no rate limits, so run.sh expects this case to fail there: xfail).
#
# A user allowed to push and pull e2e/* pushes a busybox image, then pulls it back (each pull is one manifest
# GET: docker resolves the tag with HEAD, which is not counted, then GETs the manifest by digest) until berth
# refuses: at least one pull succeeds, at most two, and the refused `docker pull` prints berth's
# TOOMANYREQUESTS message naming the limit. The administrator, never limited, still pulls.
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init
# shellcheck source=scripts/registry-lib.sh
source "${E2E_ROOT}/../../scripts/registry-lib.sh"

[[ -n "${BERTH_BIN:-}" && -x "${BERTH_BIN}" ]] || e2e_fail "needs berth: BERTH_BIN (the berth binary) not set or not executable: '${BERTH_BIN:-}'"
command -v docker >/dev/null || e2e_fail "docker CLI not found"
[[ -x /bin/busybox ]] || e2e_fail "/bin/busybox missing (apt-get install busybox-static)"

e2e_step "a berth with manifest_pulls = 2/1h"
REGISTRY_TMPDIR="$E2E_TMP" BERTH_RATE_LIMIT_MANIFEST_PULLS=2/1h registry_start berth RL
e2e_defer "registry_stop RL"
registry="${RL_ADDR}"
export BERTH_ENDPOINT="http://${registry}" BERTH_ACCESS_KEY_ID="$RL_ACCESS_KEY_ID" BERTH_SECRET_ACCESS_KEY="$RL_SECRET_ACCESS_KEY"

dev="dev-$(e2e_rand)"
dev_pw="dev-$(e2e_rand)$(e2e_rand)"
printf '%s\n' "$dev_pw" | "$BERTH_BIN" user create "$dev" --password-stdin
cat >"${E2E_TMP}/policy.json" <<'JSON'
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*",
  "Resource": "arn:aws:ecr:*:*:repository/e2e/*"}]}
JSON
"$BERTH_BIN" policy put --user "$dev" "${E2E_TMP}/policy.json"

e2e_step "push as ${dev}"
printf '%s\n' "$dev_pw" | docker login "$registry" --username "$dev" --password-stdin
e2e_defer "docker logout '${registry}'"
ref="${registry}/e2e/ratelimit-$(e2e_rand):1"
e2e_defer "docker rmi -f '${ref}'"
ctx="$(mktemp -d "${E2E_TMP}/ctx.XXXXXX")"
cp /bin/busybox "${ctx}/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "echo", "limited"]\n' >"${ctx}/Dockerfile"
DOCKER_BUILDKIT=0 docker build --force-rm -q -t "$ref" "$ctx"
docker push "$ref"

e2e_step "pull until the limit"
pulled=0
refused=""
for _ in 1 2 3 4; do
    docker rmi "$ref" >/dev/null
    if out="$(docker pull "$ref" 2>&1)"; then
        echo "$out"
        pulled=$((pulled + 1))
    else
        refused="$out"
        break
    fi
done
echo "$refused"
[[ -n "$refused" ]] || e2e_fail "berth never refused a pull (${pulled} pulls with a limit of 2)"
((pulled >= 1 && pulled <= 2)) || e2e_fail "${pulled} pulls before the refusal; want 1 or 2 (limit 2)"
e2e_expect_contains "$refused" "toomanyrequests" "docker's error for the refused pull"
e2e_expect_contains "$refused" "2 manifest pulls per 1h" "the limit named in docker's error"

e2e_step "the administrator is never limited"
printf '%s\n' "$RL_PASSWORD" | docker login "$registry" --username admin --password-stdin
for _ in 1 2 3; do
    docker rmi "$ref" >/dev/null 2>&1 || true
    docker pull "$ref"
done
e2e_expect_eq "$(docker run --rm --network none "$ref")" "limited" "docker run output"
