#!/usr/bin/env bash
# Real-client end-to-end tests against any OCI registry served over plain HTTP.
#
#   tests/e2e/run.sh [--kind KIND] REGISTRY_HOST:PORT [CASE...]
#
# Runs every case (or only the named ones) and prints `ok NAME` / `FAIL NAME: reason` per
# case, then `e2e: N passed, M failed`; exits 1 if any case failed.
#
# Cases live in cases/: each cases/NAME.sh is one case; each cases/*.py lists its cases with
# `--list` and runs one with `python3 FILE NAME`. A case gets REGISTRY=HOST:PORT and its own
# E2E_TMP directory (removed afterwards). When REGISTRY_USER / REGISTRY_PASSWORD are set
# (scripts/with-registry.sh exports them for berth) every case authenticates with them;
# otherwise (Distribution) cases run without credentials.
#
# --kind KIND (default $E2E_REGISTRY_KIND, then $REGISTRY_KIND as exported by
# scripts/with-registry.sh): the registry implementation. For KIND=distribution the cases in
# XFAIL_DISTRIBUTION below (features Distribution 2.8 lacks) are expected to fail; such a
# failure prints `xfail NAME: ...` and is not counted. Nothing is ever skipped for berth: a
# check inside a case that cannot run prints `e2e-skip: REASON`, and the runner shows every
# such reason on the case's `ok` line (`ok NAME (12s; skipped: REASON)`).
#
# Environment: E2E_CASE_TIMEOUT (seconds per case, default 600), E2E_KEEP_LOGS=1 (keep the
# per-case logs and print where they are).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/e2e/lib.sh
source "${here}/lib.sh"

# Cases that need a feature CNCF Distribution 2.8 does not implement (the referrers API;
# users, policies, token auth, rate limits, image signing and webhooks, which only berth has).
XFAIL_DISTRIBUTION=(oras-referrers auth ecr scan ratelimit signing webhooks)

usage() {
    echo "usage: $0 [--kind berth|distribution|other] REGISTRY_HOST:PORT [CASE...]" >&2
    exit 2
}

kind="${E2E_REGISTRY_KIND:-${REGISTRY_KIND:-}}"
while (($# > 0)); do
    case "$1" in
        --kind) kind="${2:-}"; shift 2 || usage ;;
        --kind=*) kind="${1#--kind=}"; shift ;;
        -h | --help) usage ;;
        *) break ;;
    esac
done
(($# >= 1)) || usage
registry="$1"
shift
wanted=("$@")

logdir="$(mktemp -d "${TMPDIR:-/tmp}/e2e-logs.XXXXXX")"
case_tmp=""
cleanup() {
    [[ -n "$case_tmp" ]] && rm -rf "$case_tmp"
    if [[ "${E2E_KEEP_LOGS:-0}" == 1 ]]; then
        echo "# logs kept in $logdir"
    else
        rm -rf "$logdir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ discover the cases
# names: case names in order; commands[NAME]: the command words that run it.
names=()
declare -A commands=()
for f in "${here}"/cases/*.sh; do
    [[ -e "$f" ]] || continue
    n="$(basename "$f" .sh)"
    names+=("$n")
    commands[$n]="bash ${f}"
done
for f in "${here}"/cases/*.py; do
    [[ -e "$f" ]] || continue
    listed="$(PYTHONPATH="${here}" python3 "$f" --list)" || {
        echo "cannot list the cases of $f" >&2
        exit 2
    }
    for n in $listed; do
        names+=("$n")
        commands[$n]="python3 -u ${f} ${n}"
    done
done

if ((${#wanted[@]} > 0)); then
    for n in "${wanted[@]}"; do
        [[ -n "${commands[$n]:-}" ]] || {
            echo "unknown case '$n'; known: ${names[*]}" >&2
            exit 2
        }
    done
    names=("${wanted[@]}")
fi

is_xfail() {
    local n="$1" x
    [[ "$kind" == distribution ]] || return 1
    for x in "${XFAIL_DISTRIBUTION[@]}"; do
        [[ "$x" == "$n" ]] && return 0
    done
    return 1
}

# ------------------------------------------------------------------ preflight
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://${registry}/v2/" || true)"
if [[ -n "${REGISTRY_USER:-}" ]]; then
    creds="clients log in as ${REGISTRY_USER}"
else
    creds="no credentials"
fi
echo "# e2e against http://${registry}/v2/ (kind: ${kind:-unknown}; GET /v2/ -> ${code}; ${creds})"

# ------------------------------------------------------------------ run
for n in "${names[@]}"; do
    case_tmp="$(mktemp -d "${TMPDIR:-/tmp}/e2e-${n}.XXXXXX")"
    log="${logdir}/${n}.log"
    start=$SECONDS
    rc=0
    # shellcheck disable=SC2086  # the command is a list of words
    REGISTRY="$registry" E2E_TMP="$case_tmp" PYTHONPATH="${here}${PYTHONPATH:+:$PYTHONPATH}" \
        timeout --kill-after=15 "${E2E_CASE_TIMEOUT:-600}" ${commands[$n]} \
        </dev/null >"$log" 2>&1 || rc=$?
    rm -rf "$case_tmp"
    case_tmp=""
    took="$((SECONDS - start))s"
    skipped="$(sed -n 's/^e2e-skip: //p' "$log" | paste -sd ';' - | sed 's/;/; /g')"
    [[ -n "$skipped" ]] && took="${took}; skipped: ${skipped}"
    if ((rc == 0)); then
        if is_xfail "$n"; then
            e2e_pass "$n" "$took; passed although expected to fail on $kind"
        else
            e2e_pass "$n" "$took"
        fi
        continue
    fi
    reason="$(e2e_reason_from_log "$log")"
    ((rc == 124 || rc == 137)) && reason="timed out after ${E2E_CASE_TIMEOUT:-600}s; last output: ${reason}"
    if is_xfail "$n"; then
        e2e_xfail "$n" "expected on $kind: ${reason:-exit $rc}"
    else
        e2e_fail_case "$n" "${reason:-exit $rc}"
        tail -n 25 "$log" | sed 's/^/#   /'
    fi
done

e2e_summary
