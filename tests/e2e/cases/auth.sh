#!/usr/bin/env bash
# auth: berth's users, policies, login passwords, robot tokens and public repositories, with
# real clients (docker, skopeo, the oras SDK). berth only: it needs the administrator's
# credentials that scripts/with-registry.sh exports for berth (REGISTRY_USER/_PASSWORD,
# BERTH_ENDPOINT, BERTH_ACCESS_KEY_ID/_SECRET_ACCESS_KEY, BERTH_BIN); Distribution has no
# authentication, so run.sh expects this case to fail there (xfail).
#
# Set-up (users, policies, keys, visibility, robot tokens) uses the `berth` CLI (signed with
# the administrator's access key); a command the CLI lacks falls back to the admin API with
# curl and Basic admin credentials. Users, tokens, local images and docker credentials are
# removed at exit. Every step prints `--- NAME`; refusals print the client's own output.
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init

if ! e2e_auth || [[ -z "${BERTH_ENDPOINT:-}" ]]; then
    e2e_fail "needs berth: no administrator credentials (REGISTRY_USER, BERTH_ENDPOINT) exported; this registry has no users or policies"
fi
command -v docker >/dev/null || e2e_fail "docker CLI not found"
command -v skopeo >/dev/null || e2e_fail "skopeo not found"
command -v curl >/dev/null || e2e_fail "curl not found"
[[ -x /bin/busybox ]] || e2e_fail "/bin/busybox missing (apt-get install busybox-static)"
[[ -n "${BERTH_BIN:-}" && -x "${BERTH_BIN}" ]] || e2e_fail "BERTH_BIN (the berth CLI) not set or not executable: '${BERTH_BIN:-}'"
python3 -c 'import oras.client' || e2e_fail "the oras Python SDK is missing (pip install oras)"

suffix="$(e2e_rand)"
img_repo="e2e/auth-img-${suffix}"      # pushed by pusher, read by reader and ci
pub_repo="e2e/auth-pub-${suffix}"      # made public: anonymous pulls
skopeo_repo="e2e/auth-skopeo-${suffix}"
robot_repo="e2e/auth-robot-${suffix}"
oras_repo="e2e/auth-oras-${suffix}"
outside_repo="e2e/other-${suffix}"     # outside every policy below
pusher="pusher-${suffix}"
reader="reader-${suffix}"
ci="ci-${suffix}"
pusher_pw="pusher-$(e2e_rand)$(e2e_rand)"
reader_pw="reader-$(e2e_rand)$(e2e_rand)"
img="${REGISTRY}/${img_repo}:1"
pub="${REGISTRY}/${pub_repo}:1"

# ------------------------------------------------------------------ helpers
json() { # PY-EXPR ARG...: prints json.dumps(PY-EXPR) with the ARGs in `a`
    python3 -c 'import json, sys; a = sys.argv[2:]; print(json.dumps(eval(sys.argv[1])))' "$@"
}
json_field() { # FIELD <JSON: prints one top-level string field
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# The berth CLI as the administrator (BERTH_ENDPOINT / BERTH_ACCESS_KEY_ID / ..._SECRET_...): the admin API
# accepts SigV4 only, which the CLI signs.
berth() {
    "$BERTH_BIN" "$@"
}

create_user() { # NAME [PASSWORD]
    e2e_defer "delete_user '$1'"
    if [[ -n "${2:-}" ]]; then
        printf '%s\n' "$2" | berth user create "$1" --password-stdin
    else
        berth user create "$1"
    fi
}
delete_user() { # NAME
    berth user delete "$1"
}
put_user_policy() { # USER POLICY-FILE
    berth policy put --user "$1" "$2"
}
create_access_key() { # USER → sets KEY_ID, KEY_SECRET
    local out
    out="$(berth key create --user "$1" --json)"
    KEY_ID="$(json_field accessKeyId <<<"$out")"
    KEY_SECRET="$(json_field secretAccessKey <<<"$out")"
    [[ -n "$KEY_ID" && -n "$KEY_SECRET" ]] || e2e_fail "no access key in: $out"
    echo "access key ${KEY_ID} for $1"
}
set_visibility() { # REPOSITORY public|private
    berth repo set-visibility "$1" "$2"
}
create_robot_token() { # NAME REPOSITORY ACTIONS(comma-separated) → sets TOKEN
    local out id
    out="$(berth token create --name "$1" --repository "$2" --actions "$3" --expires-in 1h --json)"
    TOKEN="$(json_field token <<<"$out")"
    id="$(json_field tokenId <<<"$out")"
    [[ "$TOKEN" == berth_rt_* ]] || e2e_fail "robot token does not look like berth_rt_...: $out"
    e2e_defer "delete_robot_token '$id'"
    echo "robot token ${id} ($1): $3 on $2"
}
delete_robot_token() { # ID
    berth token delete "$1"
}

docker_login_as() { # USER PASSWORD
    local out
    out="$(printf '%s\n' "$2" | docker login "$REGISTRY" --username "$1" --password-stdin 2>&1)"
    echo "$out"
    e2e_expect_contains "$out" "Login Succeeded" "docker login as $1"
}

# refused WHAT CMD...: CMD must fail. Its output (shown indented) is left in $out, its exit
# code in $rc.
refused() {
    local what="$1"
    shift
    rc=0
    out="$("$@" 2>&1)" || rc=$?
    printf '%s\n' "$out" | sed 's/^/    | /'
    echo "    (exit ${rc})"
    ((rc != 0)) || e2e_fail "${what}: succeeded, but must be refused"
}

# digest_of REF CREDS: the manifest digest skopeo sees
digest_of() {
    skopeo inspect --tls-verify=false --creds "$2" "docker://$1" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["Digest"])'
}

# What AWS's AmazonEC2ContainerRegistryReadOnly grants for pulls: `skopeo inspect` lists tags, so it needs
# ecr:ListImages (a token carries exactly the actions allowed, each checked on its own).
pull_actions='"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:ListImages"'
push_actions='"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"'
auth_repos='"arn:aws:ecr:*:*:repository/e2e/auth-*"'

e2e_defer "docker logout '${REGISTRY}'"
e2e_defer "docker rmi -f '${img}' '${pub}' '${REGISTRY}/${img_repo}:reader' '${REGISTRY}/${outside_repo}:1'"

# ------------------------------------------------------------------ users and policies
e2e_step "set-up: users ${pusher} (pull+push on e2e/auth-*), ${reader} (pull), ${ci} (access key; GetAuthorizationToken + pull)"
cat >"${E2E_TMP}/pusher.json" <<JSON
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": [${pull_actions}, ${push_actions}], "Resource": [${auth_repos}]}]}
JSON
cat >"${E2E_TMP}/reader.json" <<JSON
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": [${pull_actions}], "Resource": [${auth_repos}]}]}
JSON
cat >"${E2E_TMP}/ci.json" <<JSON
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["ecr:GetAuthorizationToken"], "Resource": "*"},
  {"Effect": "Allow", "Action": [${pull_actions}], "Resource": [${auth_repos}]}]}
JSON
create_user "$pusher" "$pusher_pw"
put_user_policy "$pusher" "${E2E_TMP}/pusher.json"
create_user "$reader" "$reader_pw"
put_user_policy "$reader" "${E2E_TMP}/reader.json"
create_user "$ci"
put_user_policy "$ci" "${E2E_TMP}/ci.json"
create_access_key "$ci"
ci_key_id="$KEY_ID"
ci_key_secret="$KEY_SECRET"

# ------------------------------------------------------------------ docker: user + password
e2e_step "docker login with a wrong password is refused"
refused "docker login as ${pusher} with a wrong password" \
    docker login "$REGISTRY" --username "$pusher" --password "not-${pusher_pw}"
e2e_expect_contains "$out" "unauthorized" "docker login with a wrong password"

e2e_step "docker login as ${pusher}; build, push, rmi, pull, run ${img}"
docker_login_as "$pusher" "$pusher_pw"
e2e_busybox_round_trip "$img" "hello from an authenticated push"

e2e_step "${pusher} pushes ${pub_repo} (covered by its policy)"
docker tag "$img" "$pub"
docker push "$pub"

e2e_step "${pusher} may not push ${outside_repo} (outside e2e/auth-*): docker push is denied"
docker tag "$img" "${REGISTRY}/${outside_repo}:1"
refused "docker push of ${outside_repo} as ${pusher}" docker push "${REGISTRY}/${outside_repo}:1"
e2e_expect_contains "$out" "denied: requested access to the resource is denied" \
    "docker push outside the policy"

# ------------------------------------------------------------------ docker: pull-only user
e2e_step "docker login as ${reader} (pull only): docker pull works"
docker logout "$REGISTRY"
docker_login_as "$reader" "$reader_pw"
docker rmi "$img"
docker pull "$img"
e2e_expect_contains "$(docker image inspect --format '{{join .RepoDigests " "}}' "$img")" \
    "$pushed_digest" "repo digest of the image pulled by ${reader}"

e2e_step "${reader} may not push: docker push is denied"
docker tag "$img" "${REGISTRY}/${img_repo}:reader"
refused "docker push as ${reader}" docker push "${REGISTRY}/${img_repo}:reader"
e2e_expect_contains "$out" "denied: requested access to the resource is denied" \
    "docker push as a pull-only user"
refused "tag 'reader' pushed by ${reader}" \
    skopeo inspect --tls-verify=false "${E2E_CREDS[@]}" "docker://${REGISTRY}/${img_repo}:reader"
e2e_expect_contains "$out" "manifest unknown" "the administrator's view of the refused tag"

# ------------------------------------------------------------------ login-password
e2e_step "berth login-password | docker login --username AWS --password-stdin (${ci}'s access key): docker pull works"
docker logout "$REGISTRY"
# The CLI signs GetLoginPassword with ci's key, not the administrator's.
BERTH_ACCESS_KEY_ID="$ci_key_id" BERTH_SECRET_ACCESS_KEY="$ci_key_secret" \
    "$BERTH_BIN" login-password >"${E2E_TMP}/login-password"
[[ "$(wc -l <"${E2E_TMP}/login-password")" == 1 && -s "${E2E_TMP}/login-password" ]] ||
    e2e_fail "berth login-password did not print exactly one line"
BERTH_ACCESS_KEY_ID="$ci_key_id" BERTH_SECRET_ACCESS_KEY="$ci_key_secret" \
    "$BERTH_BIN" login-password | docker login --username AWS --password-stdin "$REGISTRY"
rm -f "${E2E_TMP}/login-password"
docker rmi "$img"
docker pull "$img"
e2e_expect_contains "$(docker image inspect --format '{{join .RepoDigests " "}}' "$img")" \
    "$pushed_digest" "repo digest of the image pulled with a login password"
e2e_step "the login password grants only ${ci}'s pull: docker push is denied"
refused "docker push with ${ci}'s login password" docker push "$img"
e2e_expect_contains "$out" "denied: requested access to the resource is denied" \
    "docker push with a pull-only login password"

# ------------------------------------------------------------------ anonymous pulls
e2e_step "set-visibility ${pub_repo} public; after docker logout an anonymous docker pull works"
set_visibility "$pub_repo" public
docker logout "$REGISTRY"
if grep -q "$REGISTRY" "${DOCKER_CONFIG}/config.json" 2>/dev/null; then
    e2e_fail "docker logout left credentials for ${REGISTRY} in ${DOCKER_CONFIG}/config.json"
fi
docker rmi "$pub" "$img"
docker pull "$pub"
e2e_expect_eq "$(docker run --rm --network none "$pub")" "hello from an authenticated push" \
    "docker run output of the anonymously pulled image"

e2e_step "an anonymous docker pull of the private ${img_repo} fails"
refused "anonymous docker pull of ${img_repo}" docker pull "$img"
e2e_expect_contains "$out" "pull access denied" "anonymous docker pull of a private repository"
e2e_expect_contains "$out" "denied: requested access to the resource is denied" \
    "anonymous docker pull of a private repository"
if docker image inspect "$img" >/dev/null 2>&1; then
    e2e_fail "the refused anonymous pull left ${img} locally"
fi

# ------------------------------------------------------------------ skopeo
e2e_step "skopeo copy --src-creds/--dest-creds ${pusher}:PASSWORD into ${skopeo_repo}; skopeo inspect --creds ${reader}:PASSWORD"
skopeo copy --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
    --src-creds "${pusher}:${pusher_pw}" --dest-creds "${pusher}:${pusher_pw}" \
    "docker://${img}" "docker://${REGISTRY}/${skopeo_repo}:1"
e2e_expect_eq "$(digest_of "${REGISTRY}/${skopeo_repo}:1" "${reader}:${reader_pw}")" "$pushed_digest" \
    "digest of the skopeo copy, read by ${reader}"

e2e_step "robot tokens: skopeo copy with a pull,push token into ${robot_repo}, then with a pull-only token out of it"
create_robot_token "e2e-push-${suffix}" "$robot_repo" pull,push
push_token="$TOKEN"
create_robot_token "e2e-pull-${suffix}" "$robot_repo" pull
pull_token="$TOKEN"
skopeo copy --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
    --src-creds "${pusher}:${pusher_pw}" --dest-creds "robot:${push_token}" \
    "docker://${img}" "docker://${REGISTRY}/${robot_repo}:1"
skopeo copy --preserve-digests --src-tls-verify=false \
    --src-creds "robot:${pull_token}" \
    "docker://${REGISTRY}/${robot_repo}:1" "dir:${E2E_TMP}/robot-copy"
e2e_expect_eq "$(digest_of "${REGISTRY}/${robot_repo}:1" "robot:${pull_token}")" "$pushed_digest" \
    "digest read with the pull-only robot token"

e2e_step "the pull-only robot token cannot push: skopeo copy into ${robot_repo} fails"
refused "skopeo copy with a pull-only robot token" \
    skopeo copy --preserve-digests --dest-tls-verify=false --dest-creds "robot:${pull_token}" \
    "dir:${E2E_TMP}/robot-copy" "docker://${REGISTRY}/${robot_repo}:2"
e2e_expect_contains "$out" "denied: requested access to the resource is denied" \
    "skopeo copy with a pull-only robot token"
refused "tag 2 pushed with a pull-only robot token" \
    skopeo inspect --tls-verify=false "${E2E_CREDS[@]}" "docker://${REGISTRY}/${robot_repo}:2"
e2e_expect_contains "$out" "manifest unknown" "the administrator's view of the refused tag"

e2e_step "the robot tokens reach only ${robot_repo}: skopeo inspect of ${img_repo} fails"
refused "skopeo inspect of ${img_repo} with a robot token scoped to ${robot_repo}" \
    skopeo inspect --tls-verify=false --creds "robot:${pull_token}" "docker://${img}"
e2e_expect_contains "$out" "denied: requested access to the resource is denied" \
    "skopeo inspect outside the robot token's scope"

# ------------------------------------------------------------------ oras
# Pushes use the SDK's basic backend: its token backend keeps the pull-scoped token of the
# first HEAD and never asks for push (see orasctl.py). Pulls use token auth.
e2e_step "oras SDK: push as ${pusher} (basic auth), pull as ${reader} (token auth), anonymous pull refused (${oras_repo})"
head -c 4096 /dev/urandom >"${E2E_TMP}/payload.bin"
oras_ref="${REGISTRY}/${oras_repo}:v1"
(cd "$E2E_TMP" && printf '%s\n' "$pusher_pw" |
    python3 "${E2E_ROOT}/orasctl.py" push "$oras_ref" payload.bin application/vnd.berth.e2e.payload.v1 \
        --user "$pusher" --auth basic)
printf '%s\n' "$reader_pw" |
    python3 "${E2E_ROOT}/orasctl.py" pull "$oras_ref" "${E2E_TMP}/oras-pulled" --user "$reader" --auth token
cmp "${E2E_TMP}/payload.bin" "${E2E_TMP}/oras-pulled/payload.bin" ||
    e2e_fail "the payload pulled by oras as ${reader} differs from the pushed one"
refused "anonymous oras pull of ${oras_repo}" \
    python3 "${E2E_ROOT}/orasctl.py" pull "$oras_ref" "${E2E_TMP}/oras-anonymous"
e2e_expect_contains "$out" "oras error" "anonymous oras pull of a private repository"
e2e_expect_contains "$out" ": Unauthorized" "anonymous oras pull of a private repository"
if [[ -e "${E2E_TMP}/oras-anonymous/payload.bin" ]]; then
    e2e_fail "the refused anonymous oras pull wrote the payload"
fi

e2e_step "done"
