#!/usr/bin/env bash
# Run a command against a throw-away registry.
#
#   scripts/with-registry.sh KIND [--] CMD [ARGS...]
#
# KIND is `berth` (binary from $BERTH_BIN or ${CARGO_TARGET_DIR:-target}/release/berth)
# or `distribution` (CNCF Distribution, /usr/bin/docker-registry). The server gets a free
# loopback port and a temp data dir; CMD runs with REGISTRY=127.0.0.1:PORT exported
# (and REGISTRY_KIND=KIND). For berth, which is private by default, CMD also gets the
# bootstrap administrator's credentials (random for every start; REGISTRY_ADMIN_PASSWORD
# fixes the password):
#   REGISTRY_USER=admin  REGISTRY_PASSWORD=...              (docker login, skopeo --creds, ...)
#   BERTH_ENDPOINT=http://127.0.0.1:PORT  BERTH_ACCESS_KEY_ID=...  BERTH_SECRET_ACCESS_KEY=...
#                                                           (the `berth` admin CLI)
#   BERTH_BIN=<the berth binary that serves>
#   BERTH_DATA_DIR=<the server's data dir>                  (offline commands: berth vulndb import)
# For Distribution (no authentication) none of these is exported, and any inherited
# REGISTRY_USER/REGISTRY_PASSWORD/BERTH_* credentials are removed from CMD's environment:
# clients must then work without credentials.
# Afterwards the server is stopped (SIGTERM, then SIGKILL) and
# its data removed. Exits with CMD's exit code; if that is not 0, the last lines of the
# server's log are printed to stderr first (WITH_REGISTRY_LOG_LINES, default 40).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/registry-lib.sh
source "${here}/registry-lib.sh"

usage() {
    echo "usage: $0 berth|distribution [--] CMD [ARGS...]" >&2
    exit 2
}

(($# >= 2)) || usage
kind="$1"
shift
[[ "$1" == "--" ]] && shift
(($# >= 1)) || usage

cleanup() {
    registry_stop SRV
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

registry_start "$kind" SRV
echo "with-registry: $kind listening on ${SRV_ADDR} (pid ${SRV_PID})" >&2

export REGISTRY="${SRV_ADDR}"
export REGISTRY_KIND="$kind"
if [[ -n "${SRV_USER}" ]]; then
    export REGISTRY_USER="${SRV_USER}" REGISTRY_PASSWORD="${SRV_PASSWORD}"
    export BERTH_ENDPOINT="http://${SRV_ADDR}"
    export BERTH_ACCESS_KEY_ID="${SRV_ACCESS_KEY_ID}" BERTH_SECRET_ACCESS_KEY="${SRV_SECRET_ACCESS_KEY}"
    export BERTH_BIN="${SRV_BIN}"
    export BERTH_DATA_DIR="${SRV_DIR}/data"
else
    unset REGISTRY_USER REGISTRY_PASSWORD BERTH_ENDPOINT BERTH_ACCESS_KEY_ID BERTH_SECRET_ACCESS_KEY BERTH_DATA_DIR
fi
rc=0
"$@" || rc=$?
if ((rc != 0)) && [[ -s "${SRV_DIR}/server.log" ]]; then
    echo "with-registry: command exited ${rc}; last lines of the ${kind} server log:" >&2
    tail -n "${WITH_REGISTRY_LOG_LINES:-40}" "${SRV_DIR}/server.log" | sed 's/^/  | /' >&2
fi
exit "$rc"
