#!/usr/bin/env bash
# docker: build a FROM-scratch busybox image, push it, remove it, pull it back and run it
# (logged in with `docker login` when the registry wants credentials).
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init

command -v docker >/dev/null || e2e_fail "docker CLI not found"
[[ -x /bin/busybox ]] || e2e_fail "/bin/busybox missing (apt-get install busybox-static)"

e2e_docker_login

ref="${REGISTRY}/$(e2e_repo busybox):1"
ctx="${E2E_TMP}/ctx"
mkdir -p "$ctx"
cp /bin/busybox "${ctx}/busybox"
cat >"${ctx}/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
CMD ["/bin/busybox", "echo", "hello from berth"]
DOCKERFILE

e2e_defer "docker rmi -f '${ref}'"
DOCKER_BUILDKIT=0 docker build --force-rm -q -t "$ref" "$ctx"
push_out="$(docker push "$ref")"
echo "$push_out"
pushed_digest="$(grep -o 'digest: sha256:[0-9a-f]*' <<<"$push_out" | cut -d' ' -f2)"
[[ -n "$pushed_digest" ]] || e2e_fail "docker push printed no digest"

docker rmi "$ref"
if docker image inspect "$ref" >/dev/null 2>&1; then
    e2e_fail "image still present locally after docker rmi"
fi

docker pull "$ref"
repo_digest="$(docker image inspect --format '{{join .RepoDigests " "}}' "$ref")"
e2e_expect_contains "$repo_digest" "$pushed_digest" "pulled image's repo digest"

out="$(docker run --rm --network none "$ref")"
e2e_expect_eq "$out" "hello from berth" "docker run output"
