# shellcheck shell=bash
# Shared helpers for the e2e runner and its shell cases. Source it; it never exits on its own.
#
# Runner side: e2e_pass / e2e_fail_case / e2e_xfail / e2e_summary (the counting).
# Case side:   e2e_case_init, e2e_defer, e2e_fail, e2e_rand, e2e_repo, e2e_wait_port,
#              e2e_expect_eq, e2e_expect_contains, e2e_step, e2e_skip,
#              e2e_auth, e2e_docker_login, e2e_aws_env, field, E2E_CREDS / E2E_SRC_CREDS / E2E_DEST_CREDS.
#
# A case runs with REGISTRY=HOST:PORT and E2E_TMP=<a temp dir of its own, removed by the
# runner> in its environment. It exits 0 on success; on failure its last line of output is
# the reason shown by the runner.
#
# Credentials: when the registry wants them (berth), scripts/with-registry.sh exports
# REGISTRY_USER / REGISTRY_PASSWORD (the administrator) and every client must use them;
# when REGISTRY_USER is unset (Distribution) clients run without credentials.

E2E_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export E2E_ROOT

# ---------------------------------------------------------------- runner: counting
E2E_PASSED=0
E2E_FAILED=0
E2E_XFAILED=0
E2E_FAILED_NAMES=()

e2e_pass() { # NAME [NOTE]
    E2E_PASSED=$((E2E_PASSED + 1))
    echo "ok $1${2:+ ($2)}"
}

e2e_fail_case() { # NAME REASON
    E2E_FAILED=$((E2E_FAILED + 1))
    E2E_FAILED_NAMES+=("$1")
    echo "FAIL $1: $2"
}

e2e_xfail() { # NAME REASON  — an expected failure: counted neither as passed nor failed
    E2E_XFAILED=$((E2E_XFAILED + 1))
    echo "xfail $1: $2"
}

# Prints the closing line `e2e: N passed, M failed` and returns non-zero if any failed.
e2e_summary() {
    if ((E2E_XFAILED > 0)); then
        echo "# ${E2E_XFAILED} expected failure(s) (feature missing in this registry), not counted"
    fi
    if ((E2E_FAILED > 0)); then
        echo "# failed: ${E2E_FAILED_NAMES[*]}"
    fi
    echo "e2e: ${E2E_PASSED} passed, ${E2E_FAILED} failed"
    ((E2E_FAILED == 0))
}

# ---------------------------------------------------------------- case side
_E2E_DEFERRED=()

# Registers a cleanup command (a string, run with eval) to run at exit, last registered first.
e2e_defer() {
    _E2E_DEFERRED+=("$1")
}

_e2e_run_deferred() {
    local rc=$? i
    trap - ERR
    set +e
    for ((i = ${#_E2E_DEFERRED[@]} - 1; i >= 0; i--)); do
        eval "${_E2E_DEFERRED[$i]}" >/dev/null 2>&1
    done
    _E2E_DEFERRED=()
    if [[ -n "${_E2E_OWN_TMP:-}" ]]; then
        rm -rf "$_E2E_OWN_TMP"
    fi
    exit "$rc"
}

_e2e_on_err() {
    local rc=$? line="$1" cmd="$2"
    echo "command failed (exit ${rc}, ${0##*/} line ${line}): ${cmd}" >&2
}

# The reason to show for a failed case, from its log: the last line; when that is the ERR
# trap's "command failed ..." line, the last line the failing command printed is added.
e2e_reason_from_log() { # LOGFILE
    local last context
    last="$(grep -v '^[[:space:]]*$' "$1" | tail -n 1 || true)"
    if [[ "$last" == "command failed "* ]]; then
        context="$(grep -v -e '^[[:space:]]*$' -e '^command failed ' "$1" | tail -n 1 || true)"
        [[ -n "$context" ]] && last="${last} -- ${context}"
    fi
    printf '%s\n' "$last"
}

# Call first in every shell case: strict mode, cleanup traps, REGISTRY and E2E_TMP checks,
# the case's own DOCKER_CONFIG and REGISTRY_AUTH_FILE, and the E2E_*CREDS flag arrays.
# shellcheck disable=SC2034  # E2E_CREDS, E2E_SRC_CREDS, E2E_DEST_CREDS are for the cases
e2e_case_init() {
    set -euo pipefail
    if [[ -z "${REGISTRY:-}" ]]; then
        echo "REGISTRY (HOST:PORT) is not set" >&2
        exit 2
    fi
    if [[ -z "${E2E_TMP:-}" ]]; then
        _E2E_OWN_TMP="$(mktemp -d "${TMPDIR:-/tmp}/e2e.XXXXXX")"
        E2E_TMP="$_E2E_OWN_TMP"
        export E2E_TMP
    fi
    trap _e2e_run_deferred EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap '_e2e_on_err "$LINENO" "$BASH_COMMAND"' ERR
    # Client credentials stay inside the case's temp dir, never in ~/.docker or
    # ~/.config/containers: docker reads $DOCKER_CONFIG/config.json, podman/buildah/skopeo
    # login write $REGISTRY_AUTH_FILE.
    export DOCKER_CONFIG="${E2E_TMP}/docker-config"
    export REGISTRY_AUTH_FILE="${E2E_TMP}/containers-auth.json"
    mkdir -p "$DOCKER_CONFIG"
    [[ -e "$REGISTRY_AUTH_FILE" ]] || printf '{"auths": {}}\n' >"$REGISTRY_AUTH_FILE" # must exist
    # skopeo/podman/buildah flags carrying the administrator's credentials (empty without).
    E2E_CREDS=()
    E2E_SRC_CREDS=()
    E2E_DEST_CREDS=()
    if e2e_auth; then
            E2E_CREDS=(--creds "${REGISTRY_USER}:${REGISTRY_PASSWORD}")
        E2E_SRC_CREDS=(--src-creds "${REGISTRY_USER}:${REGISTRY_PASSWORD}")
        E2E_DEST_CREDS=(--dest-creds "${REGISTRY_USER}:${REGISTRY_PASSWORD}")
    fi
}

# True when the registry wants credentials (REGISTRY_USER is set).
e2e_auth() {
    [[ -n "${REGISTRY_USER:-}" ]]
}

# Logs the docker CLI in to REGISTRY as REGISTRY_USER (into the case's own DOCKER_CONFIG)
# and defers the logout; does nothing when the registry wants no credentials.
e2e_docker_login() {
    e2e_auth || return 0
    printf '%s\n' "$REGISTRY_PASSWORD" |
        docker login "$REGISTRY" --username "$REGISTRY_USER" --password-stdin
    e2e_defer "docker logout '${REGISTRY}'"
}

# Prints a step name, so that a case's log (and a failure's context) shows where it was.
e2e_step() { # NAME...
    echo "--- $*"
}

# Records that a check could not run; the runner appends these reasons to the case's `ok` line.
e2e_skip() { # REASON...
    echo "e2e-skip: $*"
}

e2e_fail() { # REASON...
    echo "$*" >&2
    exit 1
}

# 8 random lowercase hex characters.
e2e_rand() {
    od -An -N4 -tx1 /dev/urandom | tr -d ' \n'
}

# e2e_repo BASE → e2e/BASE-<random>, a repository name of its own for one case.
e2e_repo() {
    printf 'e2e/%s-%s\n' "$1" "$(e2e_rand)"
}

# e2e_wait_port HOST PORT [TIMEOUT_S]: wait until a TCP connect succeeds.
e2e_wait_port() {
    local host="$1" port="$2" timeout="${3:-30}" deadline
    deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on ${host}:${port} after ${timeout}s" >&2
    return 1
}

e2e_expect_eq() { # ACTUAL EXPECTED WHAT
    if [[ "$1" != "$2" ]]; then
        e2e_fail "$3: expected '$2', got '$1'"
    fi
}

e2e_expect_contains() { # HAYSTACK NEEDLE WHAT
    if [[ "$1" != *"$2"* ]]; then
        e2e_fail "$3: '$2' not found in: $(printf '%s' "$1" | head -c 300)"
    fi
}

# e2e_busybox_round_trip REF MESSAGE: builds a FROM-scratch image of Debian's busybox-static that prints
# MESSAGE, pushes it to REF, removes it locally, pulls it back (same digest) and runs it. Needs docker
# logged in where the registry requires it. Sets `pushed_digest` for the caller.
e2e_busybox_round_trip() {
    local ref="$1" message="$2" ctx push_out
    [[ -x /bin/busybox ]] || e2e_fail "/bin/busybox missing (apt-get install busybox-static)"
    ctx="$(mktemp -d "${E2E_TMP}/ctx.XXXXXX")"
    cp /bin/busybox "${ctx}/busybox"
    printf 'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "echo", "%s"]\n' "$message" >"${ctx}/Dockerfile"
    DOCKER_BUILDKIT=0 docker build --force-rm -q -t "$ref" "$ctx"
    push_out="$(docker push "$ref")"
    echo "$push_out"
    pushed_digest="$(grep -o 'digest: sha256:[0-9a-f]*' <<<"$push_out" | cut -d' ' -f2)"
    [[ -n "$pushed_digest" ]] || e2e_fail "docker push of ${ref} printed no digest"
    docker rmi "$ref"
    if docker image inspect "$ref" >/dev/null 2>&1; then
        e2e_fail "image still present locally after docker rmi"
    fi
    docker pull "$ref"
    e2e_expect_contains "$(docker image inspect --format '{{join .RepoDigests " "}}' "$ref")" \
        "$pushed_digest" "repo digest of the image pulled back"
    e2e_expect_eq "$(docker run --rm --network none "$ref")" "$message" "docker run output"
}

# Points the AWS CLI at nothing but berth's administrator access key (BERTH_ACCESS_KEY_ID /
# BERTH_SECRET_ACCESS_KEY from scripts/with-registry.sh): no profile or config of the machine leaks in.
e2e_aws_env() {
    export AWS_ACCESS_KEY_ID="$BERTH_ACCESS_KEY_ID"
    export AWS_SECRET_ACCESS_KEY="$BERTH_SECRET_ACCESS_KEY"
    export AWS_DEFAULT_REGION=us-east-1
    export AWS_CONFIG_FILE="${E2E_TMP}/aws-config" AWS_SHARED_CREDENTIALS_FILE="${E2E_TMP}/aws-credentials"
    export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""
    : >"$AWS_CONFIG_FILE"
    : >"$AWS_SHARED_CREDENTIALS_FILE"
    unset AWS_PROFILE AWS_SESSION_TOKEN
}

# field PYTHON-EXPR <JSON: prints EXPR evaluated with the JSON document on stdin as `d`.
field() {
    python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

