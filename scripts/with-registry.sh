#!/usr/bin/env bash
# Run a command against a throw-away registry.
#
#   scripts/with-registry.sh KIND [--] CMD [ARGS...]
#
# KIND is `berth` (binary from $BERTH_BIN or ${CARGO_TARGET_DIR:-target}/release/berth)
# or `distribution` (CNCF Distribution, /usr/bin/docker-registry). The server gets a free
# loopback port and a temp data dir; CMD runs with REGISTRY=127.0.0.1:PORT exported
# (and REGISTRY_KIND=KIND). Afterwards the server is stopped (SIGTERM, then SIGKILL) and
# its data removed. Exits with CMD's exit code.
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
exit "$rc"
