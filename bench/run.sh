#!/usr/bin/env bash
# berth vs CNCF Distribution, side by side on loopback.
#
#   bench/run.sh [--quick] [--only-distribution | --gc-cost | --metering-cost | --encryption-cost] [--runs N]
#                [--tests LIST]
#                [--client-check]
#
# Starts berth ($BERTH_BIN, default ${CARGO_TARGET_DIR:-target}/release/berth) and
# Distribution (/usr/bin/docker-registry), each on a free 127.0.0.1 port with its own temp
# data dir under $BENCH_TMPDIR (default /var/tmp: both on the same filesystem), and measures
# with bench/loadgen (Rust, built here on first use):
#   - blob push of one large blob (1 GiB; --quick 256 MiB): monolithic, chunked (16 MiB
#     PATCHes with Content-Range), streamed (one PATCH, no Content-Range); MiB/s
#   - blob pull of it: one GET, and 16 MiB Range GETs; MiB/s
#   - 2,000 distinct 4 KiB blob pushes (--quick 500), POST + PUT ?digest=, 32 clients;
#     ops/s, p50, p99
#   - manifest GET by tag, 64 connections for 10 s (--quick 5 s); req/s, p99
#   - skopeo copy of the oci-scanner-fixture layout; seconds
#   - each server's peak RSS (VmHWM) at the end
#   - each server's CPU time (utime + stime of /proc/PID/stat) over every measurement, shown
#     per GiB moved (large blobs) or per operation (small blobs, manifest GETs)
#   - physical references, measured in the same run before the servers start: SHA-256 on one
#     core (openssl speed -evp sha256), an fdatasync'd sequential write (dd conv=fdatasync),
#     and plain loopback TCP (berth-loadgen loopback); every large-blob figure is also shown
#     as a fraction of the limit it is bounded by
# Each cell is the median of --runs (default 3) runs; the two sides alternate in order.
# Prints a Markdown table and saves it (plus the raw JSON lines) under bench/results/.
#
# --only-distribution: run Distribution in BOTH slots (a sanity check of the bench itself:
#     ratios should be near 1.0). Without it a missing berth binary is an error.
# --gc-cost: run berth in BOTH slots, side a with garbage collection running all the time
#     (BERTH_GC_INTERVAL=1s, BERTH_GC_GRACE=$BENCH_GC_GRACE, default 5s: the blobs the small-blob
#     test pushes without a manifest are collected while the tests go on), side b with it off
#     (BERTH_GC_INTERVAL=0): the ratios are what online GC costs pushes and pulls. The large
#     blob is pushed without a manifest too, so push/pull need a grace longer than the run
#     (BENCH_GC_GRACE=1h: GC reviews every pushed blob and deletes nothing).
# --metering-cost: run berth in BOTH slots, side a with metering on (BERTH_METERING=true, the
#     default), side b with it off (BERTH_METERING=false): the ratios are what metering costs.
# --encryption-cost: run berth in BOTH slots, side a with encryption at rest on (BERTH_ENCRYPTION=true), side
#     b with it off: the ratios are what encryption costs (pulls lose sendfile as well as paying AES-GCM).
# --tests LIST: comma-separated subset of push,pull,small,manifest,skopeo (default: all;
#     pull needs push). Peak RSS is always reported.
# --client-check: measure the load generator alone against its do-nothing sink server and
#     exit (shows the client's ceiling for the small-blob and manifest tests).
#
# The large test blob is generated once and cached in $BENCH_CACHE (default
# /var/tmp/berth-bench) with its digest; delete that directory to reclaim the space.
# Timings are reported, never asserted.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="${root}/bench"
# shellcheck source=scripts/registry-lib.sh
source "${root}/scripts/registry-lib.sh"

quick=0
only_distribution=0
gc_cost=0
metering_cost=0
encryption_cost=0
client_check=0
runs=3
tests="push,pull,small,manifest,skopeo"
while (($# > 0)); do
    case "$1" in
        --quick) quick=1; shift ;;
        --only-distribution) only_distribution=1; shift ;;
        --gc-cost) gc_cost=1; shift ;;
        --metering-cost) metering_cost=1; shift ;;
        --encryption-cost) encryption_cost=1; shift ;;
        --client-check) client_check=1; shift ;;
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --tests) tests="${2:?--tests needs a list}"; shift 2 ;;
        -h | --help) sed -n '2,45p' "$0"; exit 0 ;;
        *) echo "bench: unknown argument $1" >&2; exit 2 ;;
    esac
done

wants() { [[ ",${tests}," == *",$1,"* ]]; }
for t in ${tests//,/ }; do
    case "$t" in
        push | pull | small | manifest | skopeo) ;;
        *) echo "bench: unknown test '$t' in --tests (push,pull,small,manifest,skopeo)" >&2; exit 2 ;;
    esac
done
if wants pull && ! wants push; then
    echo "bench: --tests pull needs push (the pulls read the pushed blob)" >&2
    exit 2
fi

if ((quick)); then
    blob_mib=256 small_count=500 manifest_secs=5
else
    blob_mib=1024 small_count=2000 manifest_secs=10
fi
chunk_mib=16
small_size=4096
small_conc=32
manifest_conns=64
fixture="${BENCH_FIXTURE:-${root}/../shared/testdata/fixtures/oci-scanner-fixture}"
cache="${BENCH_CACHE:-/var/tmp/berth-bench}"
export REGISTRY_TMPDIR="${BENCH_TMPDIR:-/var/tmp}"
export BERTH_LOG="${BERTH_LOG:-warn}" # like Distribution here: warnings only, no access log

log() { printf '[bench] %s\n' "$*" >&2; }

# ------------------------------------------------------------------ the load generator
target_dir="${CARGO_TARGET_DIR:-${root}/target}"
[[ "$target_dir" == /* ]] || target_dir="${root}/${target_dir}"
loadgen="${target_dir}/loadgen/release/berth-loadgen"
log "building bench/loadgen"
CARGO_TARGET_DIR="${target_dir}/loadgen" cargo build --release --quiet \
    --manifest-path "${bench}/loadgen/Cargo.toml"

rand_seed() { od -An -N6 -tu8 /dev/urandom | tr -d ' \n'; }

if ((client_check)); then
    port="$(registry_free_port)"
    "$loadgen" sink --listen "127.0.0.1:${port}" &
    sink_pid=$!
    trap 'kill "$sink_pid" 2>/dev/null || true; wait "$sink_pid" 2>/dev/null || true' EXIT
    e2e_wait=0
    until curl -s -o /dev/null "http://127.0.0.1:${port}/v2/"; do
        sleep 0.1
        ((++e2e_wait < 50)) || { log "sink did not start"; exit 1; }
    done
    log "client ceiling against the do-nothing sink (the sink shares the same 2 cores):"
    "$loadgen" small-blobs --registry "127.0.0.1:${port}" --repo sink/small --count 20000 \
        --size "$small_size" --concurrency "$small_conc" --seed "$(rand_seed)"
    "$loadgen" manifest-get --registry "127.0.0.1:${port}" --repo sink/manifest --push 0 \
        --connections "$manifest_conns" --duration-s 5
    exit 0
fi

# ------------------------------------------------------------------ servers
if ((only_distribution)); then
    kind_a=distribution label_a="distribution (berth slot)"
else
    kind_a=berth label_a=berth
    berth_bin="$(registry_default_berth_bin)"
    if [[ ! -x "$berth_bin" ]]; then
        log "no berth binary at ${berth_bin}: build it (cargo build --release -p berth), set BERTH_BIN, or use --only-distribution"
        exit 1
    fi
fi
kind_b=distribution label_b=distribution
if ((gc_cost)); then
    ((only_distribution == 0)) || { echo "bench: --gc-cost and --only-distribution exclude each other" >&2; exit 2; }
    if wants pull && [[ -z "${BENCH_GC_GRACE:-}" ]]; then
        echo "bench: --gc-cost would collect the large blob (pushed without a manifest) before it is pulled:" \
            "use --tests small,manifest, or BENCH_GC_GRACE=1h for push,pull" >&2
        exit 2
    fi
    gc_grace="${BENCH_GC_GRACE:-5s}"
    label_a="berth, GC every 1 s (grace ${gc_grace})" kind_b=berth label_b="berth, GC off"
fi
if ((metering_cost)); then
    ((only_distribution == 0 && gc_cost == 0)) ||
        { echo "bench: --metering-cost excludes --gc-cost and --only-distribution" >&2; exit 2; }
    label_a="berth, metering on" kind_b=berth label_b="berth, metering off"
fi
if ((encryption_cost)); then
    ((only_distribution == 0 && gc_cost == 0 && metering_cost == 0)) ||
        { echo "bench: --encryption-cost excludes --gc-cost, --metering-cost and --only-distribution" >&2; exit 2; }
    label_a="berth, encrypted" kind_b=berth label_b="berth, plaintext"
fi
command -v skopeo >/dev/null || { log "skopeo not found (apt-get install skopeo)"; exit 1; }
[[ -f "${fixture}/index.json" ]] || { log "fixture not found at ${fixture}"; exit 1; }

work="$(mktemp -d "${REGISTRY_TMPDIR}/berth-bench-run.XXXXXX")"
cleanup() {
    registry_stop A
    registry_stop B
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

blob_file="${cache}/blob-${blob_mib}MiB.bin"
blob_size=$((blob_mib * 1024 * 1024))
blob_digest=""
if wants push; then
    mkdir -p "$cache"
    log "test blob: ${blob_mib} MiB in ${cache}"
    gen="$("$loadgen" gen-blob --out "$blob_file" --size-mib "$blob_mib")"
    blob_digest="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["digest"])' <<<"$gen")"
fi


# raw measurements go straight to bench/results/, so a failed run still leaves them
stamp="$(date -u +%Y%m%d-%H%M%S)"
if ((quick)); then stamp+="-quick"; fi
if ((only_distribution)); then stamp+="-distribution-only"; fi
if ((gc_cost)); then stamp+="-gc-cost"; fi
if ((metering_cost)); then stamp+="-metering-cost"; fi
if ((encryption_cost)); then stamp+="-encryption-cost"; fi
mkdir -p "${bench}/results"
results="${bench}/results/${stamp}.jsonl"
: >"$results"

# record SIDE RUN JSON [SERVER_CPU_S]: append one measurement
record() {
    python3 -c '
import json, sys
r = json.loads(sys.argv[3]); r["side"] = sys.argv[1]; r["run"] = int(sys.argv[2])
if len(sys.argv) > 4: r["server_cpu_s"] = float(sys.argv[4])
print(json.dumps(r))' "$@" >>"$results"
}

# cpu_ticks PID: user + system CPU time of a process so far, in clock ticks (all its threads;
# the fields after the parenthesised command name, which may contain spaces)
clk_tck="$(getconf CLK_TCK)"
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# ------------------------------------------------------------------ physical references
# Measured here, on the same machine and in the same run as the servers, so that every figure
# can be put next to the limit it is bounded by. The servers are not running yet.
if wants push; then
    log "physical references: SHA-256 (1 core), fdatasync'd write, loopback TCP"
    sha_kbs="$(openssl speed -evp sha256 -seconds 3 -bytes 1048576 2>/dev/null | awk '$1 == "sha256" {sub(/k$/, "", $2); print $2}')"
    record ref 0 "{\"metric\": \"ref_sha256\", \"mib_s\": $(python3 -c "print(${sha_kbs} * 1000 / 1048576)")}"
    dd_mib=$((blob_mib < 512 ? blob_mib : 512))
    dd_out="$(LC_ALL=C dd if=/dev/zero of="${work}/dd.bin" bs=1M count="$dd_mib" conv=fdatasync 2>&1 | tail -1)"
    rm -f "${work}/dd.bin"
    dd_secs="$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) print $(i - 1)}' <<<"$dd_out" | head -1)"
    record ref 0 "{\"metric\": \"ref_fdatasync_write\", \"mib_s\": $(python3 -c "print(${dd_mib} / ${dd_secs})")}"
    record ref 0 "$("$loadgen" loopback --size-mib $((blob_mib * 4)))"
    log "references: $(grep '"side": "ref"' "$results" | tr '\n' ' ')"
fi

if ((gc_cost)); then
    BERTH_GC_INTERVAL=1s BERTH_GC_GRACE="$gc_grace" registry_start "$kind_a" A
    BERTH_GC_INTERVAL=0 registry_start "$kind_b" B
elif ((metering_cost)); then
    BERTH_METERING=true registry_start "$kind_a" A
    BERTH_METERING=false registry_start "$kind_b" B
elif ((encryption_cost)); then
    BERTH_ENCRYPTION=true registry_start "$kind_a" A
    BERTH_ENCRYPTION=false registry_start "$kind_b" B
else
    registry_start "$kind_a" A
    registry_start "$kind_b" B
fi
log "side a: ${label_a} on ${A_ADDR} (pid ${A_PID}); side b: ${label_b} on ${B_ADDR} (pid ${B_PID})"

addr_of() { if [[ "$1" == a ]]; then echo "$A_ADDR"; else echo "$B_ADDR"; fi; }
# user:password of a side's administrator (berth is private by default), empty for Distribution
auth_of() {
    local user password
    if [[ "$1" == a ]]; then user="${A_USER:-}" password="${A_PASSWORD:-}"; else user="${B_USER:-}" password="${B_PASSWORD:-}"; fi
    if [[ -n "$user" ]]; then echo "${user}:${password}"; fi
}
pid_of() { if [[ "$1" == a ]]; then echo "$A_PID"; else echo "$B_PID"; fi; }

# sides in the order for run N: a,b on odd runs, b,a on even runs
order() { if (($1 % 2)); then echo "a b"; else echo "b a"; fi; }

# measure NAME CMD...: for each run and side (alternating), run CMD with {ADDR} {RUN} {SIDE}
# {SEED} substituted, after a sync so earlier writes do not land in this measurement.
measure() {
    local name="$1" run side out args a
    shift
    for ((run = 1; run <= runs; run++)); do
        for side in $(order "$run"); do
            args=()
            for a in "$@"; do
                a="${a//\{ADDR\}/$(addr_of "$side")}"
                a="${a//\{RUN\}/$run}"
                a="${a//\{SIDE\}/$side}"
                a="${a//\{SEED\}/$(rand_seed)}"
                args+=("$a")
            done
            sync
            cpu_before="$(cpu_ticks "$(pid_of "$side")")"
            out="$(REGISTRY_AUTH="$(auth_of "$side")" "${args[@]}")" ||
                { log "${name} failed on side ${side} (run ${run})"; return 1; }
            cpu_after="$(cpu_ticks "$(pid_of "$side")")"
            record "$side" "$run" "$out" "$(python3 -c "print((${cpu_after} - ${cpu_before}) / ${clk_tck})")"
            log "${name} run ${run} side ${side}: ${out}"
        done
    done
}

lg=("$loadgen")
if wants push; then
    for mode in monolithic chunked streamed; do
        measure "push ${mode}" "${lg[@]}" push-blob --registry "{ADDR}" --repo "bench/blob-${mode}-{RUN}" \
            --file "$blob_file" --digest "$blob_digest" --mode "$mode" --chunk-mib "$chunk_mib"
    done
fi
if wants pull; then
    for mode in full range; do
        measure "pull ${mode}" "${lg[@]}" pull-blob --registry "{ADDR}" --repo "bench/blob-streamed-{RUN}" \
            --digest "$blob_digest" --size "$blob_size" --mode "$mode" --chunk-mib "$chunk_mib"
    done
    # one untimed check that both servers return the right bytes
    for side in a b; do
        REGISTRY_AUTH="$(auth_of "$side")" "$loadgen" pull-blob --registry "$(addr_of "$side")" --repo bench/blob-monolithic-1 \
            --digest "$blob_digest" --size "$blob_size" --mode range --verify 1 >/dev/null ||
            { log "side ${side} returned wrong bytes for the large blob"; exit 1; }
    done
fi

wants small && measure "small blobs" "${lg[@]}" small-blobs --registry "{ADDR}" --repo "bench/small-{RUN}" \
    --count "$small_count" --size "$small_size" --concurrency "$small_conc" --seed "{SEED}"

wants manifest && measure "manifest get" "${lg[@]}" manifest-get --registry "{ADDR}" --repo "bench/manifest-{RUN}" \
    --connections "$manifest_conns" --duration-s "$manifest_secs" --seed "{SEED}"

skopeo_copy() { # ADDR RUN SIDE → JSON
    local start end creds=()
    if [[ -n "$(auth_of "$3")" ]]; then creds=(--dest-creds "$(auth_of "$3")"); fi
    start="$EPOCHREALTIME"
    skopeo copy -q --dest-tls-verify=false "${creds[@]}" "oci:${fixture}:scanner-fixture:1" \
        "docker://${1}/bench/skopeo-${2}-${3}:1" >&2
    end="$EPOCHREALTIME"
    python3 -c 'import json, sys; print(json.dumps({"metric": "skopeo_copy", "seconds": float(sys.argv[2]) - float(sys.argv[1])}))' "$start" "$end"
}
wants skopeo && measure "skopeo copy" skopeo_copy "{ADDR}" "{RUN}" "{SIDE}"

for side in a b; do
    hwm_kib="$(awk '/^VmHWM:/ {print $2}' "/proc/$(pid_of "$side")/status")"
    record "$side" 0 "{\"metric\": \"peak_rss\", \"mib\": $(python3 -c "print(${hwm_kib} / 1024)")}"
done

if ((gc_cost)); then
    # shows that the collector did work on side a while the tests ran
    gc_figures="$(curl -fsS -u "$(auth_of a)" "http://${A_ADDR}/metrics" |
        awk '/^berth_gc_(runs|blobs_deleted|reclaimed_bytes)_total/ {printf "%s=%s ", $1, $2}')"
    log "side a's collector: ${gc_figures:-no figures}"
fi

# ------------------------------------------------------------------ report
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
mode_name=full
if ((quick)); then mode_name=quick; fi
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dist_version="$(/usr/bin/docker-registry --version 2>/dev/null | awk '{print $NF}')"
python3 - "$work/meta.json" <<PY
import json, sys
meta = {
    "started": "${started}",
    "runs": ${runs},
    "label_a": "${label_a}",
    "label_b": "${label_b}",
    "params": {"blob": "${blob_mib} MiB", "chunk": "${chunk_mib} MiB", "count": "${small_count}",
               "conc": "${small_conc}", "conns": "${manifest_conns}", "dur": "${manifest_secs} s"},
    "notes": [
        "commit ${commit}; Distribution ${dist_version}; $(nproc) cores, $(uname -r)",
        "mode: ${mode_name}; both servers on 127.0.0.1, data dirs under ${REGISTRY_TMPDIR}",
        "client: bench/loadgen (Rust, tokio + reqwest), on the same machine as the servers",
    ],
}
json.dump(meta, open(sys.argv[1], "w"))
PY
report="$(python3 "${bench}/report.py" "$results" "${work}/meta.json")"
printf '%s\n' "$report" >"${bench}/results/${stamp}.md"
printf '%s\n' "$report"
log "saved bench/results/${stamp}.md (and .jsonl)"
