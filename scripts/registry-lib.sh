# shellcheck shell=bash
# Start and stop a throw-away registry server on a free loopback port.
# Source this file; it defines registry_start / registry_stop and never exits.
#
#   registry_start KIND VAR_PREFIX   KIND = berth | distribution
#     sets ${VAR_PREFIX}_PID, ${VAR_PREFIX}_PORT, ${VAR_PREFIX}_ADDR (127.0.0.1:PORT),
#     ${VAR_PREFIX}_DIR (temp dir holding data, config and log).
#     For berth also the bootstrap administrator's credentials: ${VAR_PREFIX}_USER (admin),
#     ${VAR_PREFIX}_PASSWORD, ${VAR_PREFIX}_ACCESS_KEY_ID, ${VAR_PREFIX}_SECRET_ACCESS_KEY
#     (given to `berth serve` as BERTH_ADMIN_PASSWORD / BERTH_ADMIN_ACCESS_KEY_ID /
#     BERTH_ADMIN_SECRET_ACCESS_KEY) and ${VAR_PREFIX}_BIN; for Distribution (no
#     authentication) these are empty.
#   registry_stop VAR_PREFIX
#     SIGTERM, wait up to 10 s, then SIGKILL; removes the temp dir.
#
# Environment:
#   BERTH_BIN         berth binary (default ${CARGO_TARGET_DIR:-<repo>/target}/release/berth)
#   DISTRIBUTION_BIN  Distribution binary (default /usr/bin/docker-registry)
#   REGISTRY_TMPDIR   parent of the temp dirs (default ${TMPDIR:-/tmp})
#   REGISTRY_LOG      if set to a file, the server's log is copied there on stop
#   REGISTRY_ADMIN_PASSWORD  berth's admin password (default: random for every start)

_REGISTRY_LIB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

registry_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# registry_random_hex N: N random lowercase hex characters (N even).
registry_random_hex() {
    od -An -N"$(($1 / 2))" -tx1 /dev/urandom | tr -d ' \n'
}

registry_default_berth_bin() {
    printf '%s\n' "${BERTH_BIN:-${CARGO_TARGET_DIR:-${_REGISTRY_LIB_ROOT}/target}/release/berth}"
}

# wait_for_v2 ADDR PID [TIMEOUT_S]: poll GET /v2/ until it answers 200 or 401.
registry_wait_v2() {
    local addr="$1" pid="$2" timeout="${3:-30}" code deadline
    deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "registry: server (pid $pid) exited before answering /v2/" >&2
            return 1
        fi
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://${addr}/v2/" || true)"
        if [[ "$code" == "200" || "$code" == "401" ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "registry: http://${addr}/v2/ did not answer within ${timeout}s" >&2
    return 1
}

_registry_write_distribution_config() {
    local dir="$1" port="$2"
    cat >"${dir}/config.yml" <<CONF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${dir}/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:${port}
  headers:
    X-Content-Type-Options: [nosniff]
CONF
}

registry_start() {
    local kind="$1" prefix="$2" port dir pid bin
    local user="" password="" key_id="" key_secret=""
    dir="$(mktemp -d "${REGISTRY_TMPDIR:-${TMPDIR:-/tmp}}/registry-${kind}.XXXXXX")"
    mkdir -p "${dir}/data"
    port="$(registry_free_port)"
    case "$kind" in
        berth)
            bin="$(registry_default_berth_bin)"
            if [[ ! -x "$bin" ]]; then
                echo "registry: berth binary not found at $bin (set BERTH_BIN or build it)" >&2
                rm -rf "$dir"
                return 1
            fi
            user="admin"
            password="${REGISTRY_ADMIN_PASSWORD:-e2e-admin-$(registry_random_hex 24)}"
            # An access key id like AWS's (20 upper-case characters) and a 40-character secret.
            key_id="BKIAE2E$(registry_random_hex 12 | tr 'a-f' 'A-F')0"
            key_secret="$(registry_random_hex 40)"
            BERTH_ADMIN_PASSWORD="$password" \
                BERTH_ADMIN_ACCESS_KEY_ID="$key_id" \
                BERTH_ADMIN_SECRET_ACCESS_KEY="$key_secret" \
                "$bin" serve --listen "127.0.0.1:${port}" --data-dir "${dir}/data" \
                >"${dir}/server.log" 2>&1 </dev/null &
            pid=$!
            ;;
        distribution)
            bin="${DISTRIBUTION_BIN:-/usr/bin/docker-registry}"
            if [[ ! -x "$bin" ]]; then
                echo "registry: Distribution binary not found at $bin (apt-get install docker-registry)" >&2
                rm -rf "$dir"
                return 1
            fi
            _registry_write_distribution_config "$dir" "$port"
            "$bin" serve "${dir}/config.yml" >"${dir}/server.log" 2>&1 </dev/null &
            pid=$!
            bin="" # ${prefix}_BIN names a berth binary only
            ;;
        *)
            echo "registry: unknown kind '$kind' (berth | distribution)" >&2
            rm -rf "$dir"
            return 1
            ;;
    esac
    printf -v "${prefix}_PID" '%s' "$pid"
    printf -v "${prefix}_PORT" '%s' "$port"
    printf -v "${prefix}_ADDR" '%s' "127.0.0.1:${port}"
    printf -v "${prefix}_DIR" '%s' "$dir"
    printf -v "${prefix}_KIND" '%s' "$kind"
    printf -v "${prefix}_BIN" '%s' "$bin"
    printf -v "${prefix}_USER" '%s' "$user"
    printf -v "${prefix}_PASSWORD" '%s' "$password"
    printf -v "${prefix}_ACCESS_KEY_ID" '%s' "$key_id"
    printf -v "${prefix}_SECRET_ACCESS_KEY" '%s' "$key_secret"
    if ! registry_wait_v2 "127.0.0.1:${port}" "$pid" "${REGISTRY_START_TIMEOUT:-30}"; then
        echo "registry: last lines of the $kind log:" >&2
        tail -n 20 "${dir}/server.log" >&2 || true
        registry_stop "$prefix"
        return 1
    fi
}

registry_stop() {
    local prefix="$1" pid_var="${1}_PID" dir_var="${1}_DIR" pid dir i
    pid="${!pid_var:-}"
    dir="${!dir_var:-}"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "registry: pid $pid ignored SIGTERM for 10 s, killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    fi
    if [[ -n "$dir" && -d "$dir" ]]; then
        if [[ -n "${REGISTRY_LOG:-}" && -f "${dir}/server.log" ]]; then
            cp "${dir}/server.log" "$REGISTRY_LOG" || true
        fi
        rm -rf "$dir"
    fi
    printf -v "$pid_var" '%s' ""
    printf -v "$dir_var" '%s' ""
}
