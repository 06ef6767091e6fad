#!/usr/bin/env bash
# Run a command against a throw-away registry.
#
#   scripts/with-registry.sh KIND [--] CMD [ARGS...]
#
# KIND is `berth` (binary from $BERTH_BIN or ${CARGO_TARGET_DIR:-target}/release/berth)
# or `distribution` (CNCF Distribution, /usr/bin/docker-registry). The server gets a free
# loopback port and a temp data dir; CMD runs with REGISTRY=127.0.0.1:PORT exported
# (and REGISTRY_KIND=KIND). Afterwards the server is stopped (SIGTERM, then SIGKILL) and
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
rc=0
"$@" || rc=$?
if ((rc != 0)) && [[ -s "${SRV_DIR}/server.log" ]]; then
    echo "with-registry: command exited ${rc}; last lines of the ${kind} server log:" >&2
    tail -n "${WITH_REGISTRY_LOG_LINES:-40}" "${SRV_DIR}/server.log" | sed 's/^/  | /' >&2
fi
exit "$rc"
