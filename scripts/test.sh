#!/usr/bin/env bash
# The one command that runs all of berth's tests:
#   1. cargo test --workspace --no-fail-fast (every test binary runs even if one fails)
#   2. cargo build --release -p berth
#   3. the real-client e2e suite (tests/e2e/run.sh) against a fresh berth, via
#      scripts/with-registry.sh
#
#   scripts/test.sh [--registry berth|distribution|both] [--e2e-only] [--no-e2e] [--no-install] [CASE...]
#
# First it installs what the tests use (scripts/install-deps.sh: the clients, Distribution, PostgreSQL, moto,
# oras/boto3/awscli; quick when present) unless --no-install or BERTH_TEST_NO_INSTALL=1.
#
# --registry (default $E2E_REGISTRY, else berth): which server(s) the e2e suite runs against.
#     `distribution` (CNCF Distribution from Debian's docker-registry) validates the suite
#     itself; with it alone the release build of berth is skipped.
# --e2e-only: skip steps 1 and 2 (the berth binary must already exist for berth).
# --no-e2e:   run steps 1 and 2 only.
# CASE...:    run only these e2e cases.
#
# Every step runs even if an earlier one failed (except that e2e against berth needs the
# build); the exit code is non-zero if any step failed. The last line printed is the closing
# line of the last e2e run: `e2e: N passed, M failed`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

registry="${E2E_REGISTRY:-berth}"
run_cargo=1
run_e2e=1
install="${BERTH_TEST_NO_INSTALL:+0}"
install="${install:-1}"
cases=()
while (($# > 0)); do
    case "$1" in
        --registry) registry="${2:-}"; shift 2 || exit 2 ;;
        --registry=*) registry="${1#--registry=}"; shift ;;
        --e2e-only) run_cargo=0; shift ;;
        --no-e2e) run_e2e=0; shift ;;
        --no-install) install=0; shift ;;
        -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
        -*) echo "test.sh: unknown option $1" >&2; exit 2 ;;
        *) cases+=("$1"); shift ;;
    esac
done
case "$registry" in
    berth) kinds=(berth) ;;
    distribution) kinds=(distribution) ;;
    both) kinds=(berth distribution) ;;
    *) echo "test.sh: --registry must be berth, distribution or both" >&2; exit 2 ;;
esac

if ((install)); then
    "${root}/scripts/install-deps.sh"
fi

target_dir="${CARGO_TARGET_DIR:-${root}/target}"
[[ "$target_dir" == /* ]] || target_dir="${root}/${target_dir}"
export BERTH_BIN="${BERTH_BIN:-${target_dir}/release/berth}"

steps=()
failed=0
last_e2e_line=""
record() { # STEP STATUS
    steps+=("$1: $2")
    [[ "$2" == ok ]] || failed=1
}
banner() {
    printf '\n==== %s ====\n' "$*"
}

needs_berth=0
[[ " ${kinds[*]} " == *" berth "* ]] && needs_berth=1

if ((run_cargo)); then
    banner "cargo test --workspace --no-fail-fast"
    if cargo test --workspace --no-fail-fast; then record "cargo test" ok; else record "cargo test" FAIL; fi

    if ((needs_berth)); then
        banner "cargo build --release -p berth"
        if cargo build --release -p berth; then record "release build" ok; else record "release build" FAIL; fi
    fi
fi

if ((run_e2e)); then
    for kind in "${kinds[@]}"; do
        banner "e2e against ${kind}"
        if [[ "$kind" == berth && ! -x "$BERTH_BIN" ]]; then
            echo "no berth binary at ${BERTH_BIN}"
            record "e2e (${kind})" "FAIL (no binary)"
            continue
        fi
        out="$(mktemp)"
        rc=0
        "${root}/scripts/with-registry.sh" "$kind" -- \
            bash -c '"$0" --kind "$REGISTRY_KIND" "$REGISTRY" "$@"' \
            "${root}/tests/e2e/run.sh" "${cases[@]}" 2>&1 | tee "$out" || rc=$?
        line="$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)"
        rm -f "$out"
        [[ -n "$line" ]] && last_e2e_line="$line"
        if ((rc == 0)); then record "e2e (${kind})" ok; else record "e2e (${kind})" FAIL; fi
    done
fi

# Three nodes on PostgreSQL + S3 (moto) behind HAProxy, with kill tests (tests/multinode/run.py).
if ((run_e2e)) && ((needs_berth)) && ((${#cases[@]} == 0)); then
    banner "multinode (3 berth nodes, PostgreSQL, S3, HAProxy)"
    if [[ ! -x "$BERTH_BIN" ]]; then
        record "multinode" "FAIL (no binary)"
    elif BERTH_BIN="$BERTH_BIN" python3 "${root}/tests/multinode/run.py"; then
        record "multinode" ok
    else
        record "multinode" FAIL
    fi
fi

banner "summary"
for s in "${steps[@]}"; do
    echo "# $s"
done
if [[ -n "$last_e2e_line" ]]; then
    echo "$last_e2e_line"
fi
exit "$failed"
