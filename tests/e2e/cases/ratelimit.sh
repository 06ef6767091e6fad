#!/usr/bin/env bash
# ratelimit: `docker pull` meeting berth's manifest pull limit, as Docker Hub users meet theirs. berth only
# (it starts a berth of its own with BERTH_RATE_LIMIT_MANIFEST_PULLS=2/1h next to the shared registry, from
# BERTH_BIN; Distribution has no rate limits, so run.sh expects this case to fail there: xfail).
#
# A user allowed to push and pull e2e/* pushes three busybox images and removes them locally, then pulls them
# back: two pulls succeed, the third is refused and `docker pull` prints berth's TOOMANYREQUESTS message naming
# the limit and the user. The administrator, never limited, then pulls the third and runs it.
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

e2e_step "push three images as ${dev}"
printf '%s\n' "$dev_pw" | docker login "$registry" --username "$dev" --password-stdin
e2e_defer "docker logout '${registry}'"
repo="${registry}/e2e/ratelimit-$(e2e_rand)"
ctx="$(mktemp -d "${E2E_TMP}/ctx.XXXXXX")"
cp /bin/busybox "${ctx}/busybox"
for n in 1 2 3; do
    e2e_defer "docker rmi -f '${repo}:${n}'"
    printf 'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "echo", "limited %s"]\n' "$n" >"${ctx}/Dockerfile"
    DOCKER_BUILDKIT=0 docker build --force-rm -q -t "${repo}:${n}" "$ctx"
    docker push "${repo}:${n}"
    docker rmi "${repo}:${n}"
done

# docker resolves a tag with HEAD (not counted) and GETs a manifest it does not hold: one pull per image. (A
# pull of an image it pulled before, even after `docker rmi`, is a HEAD only, as with Docker Hub.)
e2e_step "pull until the limit"
e2e_expect_contains "$(docker pull "${repo}:1" 2>&1)" "Downloaded newer image" "the first pull"
e2e_expect_contains "$(docker pull "${repo}:2" 2>&1)" "Downloaded newer image" "the second pull"
if refused="$(docker pull "${repo}:3" 2>&1)"; then
    e2e_fail "berth let a third pull through with a limit of 2: ${refused}"
fi
echo "$refused"
e2e_expect_contains "$refused" "toomanyrequests" "docker's error for the refused pull"
e2e_expect_contains "$refused" "2 manifest pulls per 1h" "the limit named in docker's error"
e2e_expect_contains "$refused" "user/${dev}" "whose limit, named in docker's error"

e2e_step "the administrator is never limited"
printf '%s\n' "$RL_PASSWORD" | docker login "$registry" --username admin --password-stdin
docker pull "${repo}:3"
e2e_expect_eq "$(docker run --rm --network none "${repo}:3")" "limited 3" "docker run output"
