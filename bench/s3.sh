#!/usr/bin/env bash
# berth scaled out: side by side with CNCF Distribution on the same S3 server, berth's PostgreSQL
# metadata against SQLite, and 1, 2 and 3 berth nodes behind HAProxy.
#
#   bench/s3.sh [--quick] [--runs N] [--parts LIST] [--s3 s3s-fs|moto]
#
# Starts everything itself on free 127.0.0.1 ports in a temp dir under $BENCH_TMPDIR (default
# /var/tmp): the S3 server (moto_server for the part with Distribution, whose S3 driver needs
# ListMultipartUploads that s3s-fs lacks; for the others s3s-fs if installed, else moto; --s3
# picks), PostgreSQL
# (initdb into the temp dir, default settings: fsync on), berth ($BERTH_BIN, default
# ${CARGO_TARGET_DIR:-target}/release/berth), Distribution (/usr/bin/docker-registry, its S3 driver)
# and HAProxy. Measures with bench/loadgen (as bench/run.sh does). Parts (--parts, default all):
#   distribution  berth (SQLite metadata) and Distribution, each on its own bucket of the same S3
#                 server: one large blob (1 GiB; --quick 256 MiB) pushed monolithic and chunked
#                 (16 MiB PATCHes), pulled with one GET proxied through the registry and, after a
#                 restart of both with redirects on (BERTH_S3_REDIRECT=true; Distribution
#                 `redirect: disable: false`), redirected to a presigned S3 URL; 2,000 (--quick 500)
#                 4 KiB blob pushes at 32 clients; manifest GETs by tag at 64 connections for 10 s
#                 (--quick 5 s). Server CPU-seconds (per GiB or per operation), the S3 server's too,
#                 and each registry's peak RSS.
#   metadata      berth on PostgreSQL against berth on SQLite (both on S3): the small pushes and
#                 the manifest GETs.
#   nodes         berth nodes sharing PostgreSQL and S3 behind HAProxy (round-robin, per request),
#                 with 1, 2 and 3 nodes in the backend: the small pushes (--keep-going: failures
#                 counted) and the manifest GETs, with error counts; then with 3 nodes, one node
#                 SIGKILLed halfway through the manifest GETs and the small pushes.
# Each cell is the median of --runs (default 3) runs; the sides alternate in order. Prints Markdown
# tables and saves them (and the raw JSON lines) under bench/results/s3-<stamp>.*. Timings are
# reported, never asserted.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="${root}/bench"
# shellcheck source=scripts/registry-lib.sh
source "${root}/scripts/registry-lib.sh"

quick=0
runs=3
parts="distribution,metadata,nodes"
s3_kind=""
while (($# > 0)); do
    case "$1" in
        --quick) quick=1; shift ;;
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --parts) parts="${2:?--parts needs a list}"; shift 2 ;;
        --s3) s3_kind="${2:?--s3 needs s3s-fs or moto}"; shift 2 ;;
        -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
        *) echo "bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
wants() { [[ ",${parts}," == *",$1,"* ]]; }
for p in ${parts//,/ }; do
    case "$p" in
        distribution | metadata | nodes) ;;
        *) echo "bench: unknown part '$p' in --parts (distribution,metadata,nodes)" >&2; exit 2 ;;
    esac
done

if ((quick)); then
    blob_mib=256 small_count=500 manifest_secs=5
else
    blob_mib=1024 small_count=2000 manifest_secs=10
fi
chunk_mib=16
small_size=4096
small_conc=32
manifest_conns=64
cache="${BENCH_CACHE:-/var/tmp/berth-bench}"
tmp_parent="${BENCH_TMPDIR:-/var/tmp}"

log() { printf '[bench-s3] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ------------------------------------------------------------------ tools
berth_bin="$(registry_default_berth_bin)"
[[ -x "$berth_bin" ]] || die "no berth binary at ${berth_bin}: build it (cargo build --release -p berth) or set BERTH_BIN"
dist_bin="${DISTRIBUTION_BIN:-/usr/bin/docker-registry}"
if wants distribution; then
    [[ -x "$dist_bin" ]] || die "Distribution not found at ${dist_bin} (apt-get install docker-registry)"
fi
if wants nodes; then
    command -v haproxy >/dev/null || die "haproxy not found (apt-get install haproxy)"
fi
# The berth-only parts run on s3s-fs when installed (faster), else moto. Distribution's S3 driver needs
# ListMultipartUploads on every upload, which s3s-fs 0.14 does not implement (501), so the side-by-side
# part runs both registries on moto, whatever --s3 says.
if [[ -z "$s3_kind" ]]; then
    if command -v s3s-fs >/dev/null; then s3_kind=s3s-fs; else s3_kind=moto; fi
fi
case "$s3_kind" in
    s3s-fs) command -v s3s-fs >/dev/null || die "s3s-fs not found (scripts/install-deps.sh installs it)" ;;
    moto) ;;
    *) die "--s3 takes s3s-fs or moto" ;;
esac
if wants distribution || [[ "$s3_kind" == moto ]]; then
    command -v moto_server >/dev/null || die "moto_server not found (python3 -m pip install 'moto[server]')"
fi
pg_dir_bin=""
if wants metadata || wants nodes; then
    pg_dir_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [[ -x "${pg_dir_bin}/initdb" ]] || die "PostgreSQL not found (apt-get install postgresql)"
fi

target_dir="${CARGO_TARGET_DIR:-${root}/target}"
[[ "$target_dir" == /* ]] || target_dir="${root}/${target_dir}"
loadgen="${target_dir}/loadgen/release/berth-loadgen"
log "building bench/loadgen"
CARGO_TARGET_DIR="${target_dir}/loadgen" cargo build --release --quiet --manifest-path "${bench}/loadgen/Cargo.toml"

# ------------------------------------------------------------------ processes
work="$(mktemp -d "${tmp_parent}/berth-bench-s3.XXXXXX")"
chmod 755 "$work" # PostgreSQL runs as its own user below it
declare -A PID ADDR AUTH
started=()
pg_user=()

# start NAME CMD...: runs CMD in the background, its output in $work/NAME.log
start() {
    local name="$1"
    shift
    "$@" >"${work}/${name}.log" 2>&1 </dev/null &
    PID[$name]=$!
    started+=("$name")
}

stop() {
    local name="$1" pid="${PID[$1]:-}" i
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -"${2:-TERM}" "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    PID[$name]=""
}

cleanup() {
    local i
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do
        if [[ "${started[i]}" == postgres && -n "${PID[postgres]:-}" ]]; then
            "${pg_user[@]}" "${pg_dir_bin}/pg_ctl" -D "${work}/pg" -m fast -w stop >/dev/null 2>&1 || true
        fi
        stop "${started[i]}"
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_http NAME URL: until URL answers anything below 500 (or 401/403), while NAME runs
wait_http() {
    local name="$1" url="$2" code deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
        kill -0 "${PID[$name]:-0}" 2>/dev/null || { tail -20 "${work}/${name}.log" >&2; die "${name} exited at start"; }
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
        if [[ "$code" =~ ^[1-4][0-9][0-9]$ ]]; then return 0; fi
        sleep 0.2
    done
    tail -20 "${work}/${name}.log" >&2
    die "${name} did not answer at ${url} within 60 s"
}

# ------------------------------------------------------------------ S3 server
# start_s3 KIND: (re)starts the S3 server as process `s3` on a new port, with no buckets.
s3_key="berth-bench"
s3_secret="berth-bench-secret-$(registry_random_hex 16)"
start_s3() {
    stop s3
    s3_port="$(registry_free_port)"
    s3_endpoint="http://127.0.0.1:${s3_port}"
    s3_now="$1"
    if [[ "$1" == s3s-fs ]]; then
        rm -rf "${work}/s3"
        mkdir -p "${work}/s3"
        start s3 s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key "$s3_key" --secret-key "$s3_secret" "${work}/s3"
        s3_version="s3s-fs $(s3s-fs --version 2>/dev/null | awk '{print $NF}')"
    else
        start s3 moto_server -H 127.0.0.1 -p "$s3_port"
        s3_version="moto $(python3 -c 'import moto; print(moto.__version__)')"
    fi
    wait_http s3 "${s3_endpoint}/"
    s3_versions+=("$s3_version")
    log "S3: ${s3_version} on ${s3_endpoint}"
}
make_bucket() {
    if [[ "$s3_now" == s3s-fs ]]; then
        mkdir "${work}/s3/$1" # s3s-fs: a bucket is a directory
    else
        curl -sf -o /dev/null -X PUT "${s3_endpoint}/$1" # moto checks no signature
    fi
}
s3_versions=()

# ------------------------------------------------------------------ PostgreSQL
pg_port=""
if [[ -n "$pg_dir_bin" ]]; then
    pg_port="$(registry_free_port)"
    mkdir "${work}/pg"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "${work}/pg"
        pg_user=(runuser -u postgres --)
    fi
    "${pg_user[@]}" "${pg_dir_bin}/initdb" -D "${work}/pg" -U postgres --auth=trust -E UTF8 --locale=C \
        --no-sync >"${work}/initdb.log" 2>&1 || { cat "${work}/initdb.log" >&2; die "initdb failed"; }
    start postgres "${pg_user[@]}" "${pg_dir_bin}/postgres" -D "${work}/pg" -p "$pg_port" -k "${work}/pg" \
        -h 127.0.0.1 -c max_connections=300
    deadline=$((SECONDS + 60))
    until "${pg_dir_bin}/pg_isready" -q -h 127.0.0.1 -p "$pg_port"; do
        ((SECONDS < deadline)) || die "PostgreSQL did not start: $(tail -5 "${work}/postgres.log")"
        sleep 0.2
    done
    log "PostgreSQL $("${pg_dir_bin}/postgres" --version | awk '{print $NF}') on 127.0.0.1:${pg_port}"
fi
create_db() {
    "${pg_dir_bin}/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -c "CREATE DATABASE $1" >/dev/null
    echo "postgres://postgres@127.0.0.1:${pg_port}/$1"
}

# ------------------------------------------------------------------ registries
admin_password="bench-admin-$(registry_random_hex 24)"
master_key="$(head -c 32 /dev/urandom | base64)"

# start_berth NAME BUCKET [VAR=VALUE...]: berth on s3://BUCKET/registry (SQLite in its data dir unless
# BERTH_METADATA_URL is among the variables)
start_berth() {
    local name="$1" bucket="$2" port
    shift 2
    port="$(registry_free_port)"
    mkdir -p "${work}/${name}"
    start "$name" env -u BERTH_METADATA_URL -u BERTH_S3_REDIRECT -u AWS_CA_BUNDLE -u AWS_PROFILE \
        BERTH_LOG=warn BERTH_MASTER_KEY="$master_key" BERTH_ADMIN_PASSWORD="$admin_password" \
        BERTH_STORAGE_URL="s3://${bucket}/registry" BERTH_S3_ENDPOINT="$s3_endpoint" BERTH_S3_PATH_STYLE=true \
        AWS_ACCESS_KEY_ID="$s3_key" AWS_SECRET_ACCESS_KEY="$s3_secret" AWS_REGION=us-east-1 "$@" \
        "$berth_bin" serve --listen "127.0.0.1:${port}" --data-dir "${work}/${name}"
    ADDR[$name]="127.0.0.1:${port}"
    AUTH[$name]="admin:${admin_password}"
    wait_http "$name" "http://${ADDR[$name]}/v2/"
}

# start_distribution NAME BUCKET REDIRECT(true|false): Distribution with its S3 driver (path-style requests,
# as Distribution 2.8 makes them whenever regionendpoint is set)
start_distribution() {
    local name="$1" bucket="$2" redirect="$3" port disable
    port="$(registry_free_port)"
    if [[ "$redirect" == true ]]; then disable=false; else disable=true; fi
    cat >"${work}/${name}.yml" <<CONF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  s3:
    region: us-east-1
    bucket: ${bucket}
    regionendpoint: ${s3_endpoint}
    accesskey: ${s3_key}
    secretkey: ${s3_secret}
    secure: false
    v4auth: true
    rootdirectory: /registry
  redirect:
    disable: ${disable}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:${port}
CONF
    # AWS_CA_BUNDLE (set on some machines) makes Distribution's AWS SDK refuse its own HTTP transport.
    start "$name" env -u AWS_CA_BUNDLE -u AWS_PROFILE "$dist_bin" serve "${work}/${name}.yml"
    ADDR[$name]="127.0.0.1:${port}"
    AUTH[$name]=""
    wait_http "$name" "http://${ADDR[$name]}/v2/"
}

# ------------------------------------------------------------------ measuring
stamp="$(date -u +%Y%m%d-%H%M%S)"
if ((quick)); then stamp+="-quick"; fi
mkdir -p "${bench}/results"
results="${bench}/results/s3-${stamp}.jsonl"
: >"$results"

# record GROUP VARIANT SIDE RUN JSON [SERVER_CPU_S [S3_CPU_S]]
record() {
    python3 -c '
import json, sys
r = json.loads(sys.argv[5])
r.update(group=sys.argv[1], variant=sys.argv[2], side=sys.argv[3], run=int(sys.argv[4]))
if len(sys.argv) > 6 and sys.argv[6]: r["server_cpu_s"] = float(sys.argv[6])
if len(sys.argv) > 7 and sys.argv[7]: r["s3_cpu_s"] = float(sys.argv[7])
print(json.dumps(r))' "$@" >>"$results"
}

clk_tck="$(getconf CLK_TCK)"
# cpu_ticks NAME...: user + system CPU ticks of the named processes so far, summed. `postgres` counts
# our server (its postmaster.pid), the children it has reaped (cutime + cstime) and its live backends.
cpu_ticks() {
    local n total=0 t pids p reaped
    for n in "$@"; do
        pids="${PID[$n]:-}" reaped=0
        if [[ "$n" == postgres ]]; then
            pids="$(head -1 "${work}/pg/postmaster.pid" 2>/dev/null || true)"
            [[ -n "$pids" ]] && pids="$pids $(pgrep -P "$pids" | tr '\n' ' ')"
            reaped=1
        fi
        for p in $pids; do
            t="$(sed 's/^.*) //' "/proc/${p}/stat" 2>/dev/null | awk -v r="$reaped" '{print $12 + $13 + (r ? $14 + $15 : 0)}')"
            total=$((total + ${t:-0}))
            reaped=0 # only the postmaster's reaped children
        done
    done
    echo "$total"
}
secs() { python3 -c "print(($2 - $1) / ${clk_tck})"; }

# Which processes serve a side (for its CPU time): itself, or the nodes behind a balancer.
declare -A SERVERS
servers_of() { echo "${SERVERS[$1]:-$1}"; }

# measure GROUP VARIANT "SIDE..." CMD...: for each run and side (the order alternates), runs CMD with
# {ADDR} {RUN} {SIDE} {SEED} substituted, after a sync; records the output, the side's server CPU and
# the S3 server's CPU.
measure() {
    local group="$1" variant="$2" sides="$3" run side out a s3_before s3_after before after order_sides
    shift 3
    for ((run = 1; run <= runs; run++)); do
        order_sides="$sides"
        if ((run % 2 == 0)); then order_sides="$(tr ' ' '\n' <<<"$sides" | tac | tr '\n' ' ')"; fi
        for side in $order_sides; do
            local args=()
            for a in "$@"; do
                a="${a//\{ADDR\}/${ADDR[$side]}}"
                a="${a//\{RUN\}/$run}"
                a="${a//\{SIDE\}/$side}"
                a="${a//\{SEED\}/$(od -An -N6 -tu8 /dev/urandom | tr -d ' \n')}"
                args+=("$a")
            done
            sync
            # shellcheck disable=SC2046
            before="$(cpu_ticks $(servers_of "$side"))"
            s3_before="$(cpu_ticks s3)"
            out="$(REGISTRY_AUTH="${AUTH[$side]}" "${args[@]}")" ||
                die "${group}/${variant}: ${args[1]} failed on ${side} (run ${run})"
            # shellcheck disable=SC2046
            after="$(cpu_ticks $(servers_of "$side"))"
            s3_after="$(cpu_ticks s3)"
            record "$group" "$variant" "$side" "$run" "$out" "$(secs "$before" "$after")" "$(secs "$s3_before" "$s3_after")"
            log "${group} ${variant} run ${run} ${side}: ${out}"
        done
    done
}

# peak GROUP NAME: the process's peak RSS (VmHWM) so far
peak() {
    local kib
    kib="$(awk '/^VmHWM:/ {print $2}' "/proc/${PID[$2]}/status")"
    record "$1" "-" "$2" 0 "{\"metric\": \"peak_rss\", \"mib\": $(python3 -c "print(${kib} / 1024)")}"
}

lg=("$loadgen")
small=("${lg[@]}" small-blobs --registry "{ADDR}" --repo "bench/small-{SIDE}-{RUN}" --count "$small_count"
    --size "$small_size" --concurrency "$small_conc" --seed "{SEED}")
manifest=("${lg[@]}" manifest-get --registry "{ADDR}" --repo "bench/manifest-{SIDE}-{RUN}"
    --connections "$manifest_conns" --duration-s "$manifest_secs" --seed "{SEED}")

# ------------------------------------------------------------------ part: berth vs Distribution on S3
if wants distribution; then
    mkdir -p "$cache"
    blob_file="${cache}/blob-${blob_mib}MiB.bin"
    blob_size=$((blob_mib * 1024 * 1024))
    log "test blob: ${blob_mib} MiB in ${cache}"
    gen="$("$loadgen" gen-blob --out "$blob_file" --size-mib "$blob_mib")"
    blob_digest="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["digest"])' <<<"$gen")"
    start_s3 moto
    make_bucket berth
    make_bucket distribution
    start_berth berth berth
    start_distribution distribution distribution false
    sides="berth distribution"
    for mode in monolithic chunked; do
        measure s3 - "$sides" "${lg[@]}" push-blob --registry "{ADDR}" --repo "bench/blob-${mode}-{RUN}" \
            --file "$blob_file" --digest "$blob_digest" --mode "$mode" --chunk-mib "$chunk_mib"
    done
    measure s3 proxied "$sides" "${lg[@]}" pull-blob --registry "{ADDR}" --repo "bench/blob-monolithic-1" \
        --digest "$blob_digest" --size "$blob_size" --mode full
    measure s3 - "$sides" "${small[@]}" --keep-going 0
    measure s3 - "$sides" "${manifest[@]}"
    peak s3 berth
    peak s3 distribution
    stop berth
    stop distribution
    log "restarting both with redirects to presigned S3 URLs"
    start_berth berth berth BERTH_S3_REDIRECT=true
    start_distribution distribution distribution true
    measure s3 redirected "$sides" "${lg[@]}" pull-blob --registry "{ADDR}" --repo "bench/blob-monolithic-1" \
        --digest "$blob_digest" --size "$blob_size" --mode full
    # One untimed check that both return the right bytes when redirecting.
    for side in $sides; do
        REGISTRY_AUTH="${AUTH[$side]}" "$loadgen" pull-blob --registry "${ADDR[$side]}" --repo bench/blob-chunked-1 \
            --digest "$blob_digest" --size "$blob_size" --mode full --verify 1 >/dev/null ||
            die "${side} returned wrong bytes for the large blob"
    done
    peak s3 berth
    peak s3 distribution
    stop berth
    stop distribution
fi

# ------------------------------------------------------------------ part: PostgreSQL vs SQLite metadata
if wants metadata || wants nodes; then
    start_s3 "$s3_kind"
fi
if wants metadata; then
    make_bucket meta-pg
    make_bucket meta-sqlite
    start_berth berth-postgres meta-pg BERTH_METADATA_URL="$(create_db bench_meta)"
    start_berth berth-sqlite meta-sqlite
    SERVERS[berth-postgres]="berth-postgres postgres" # the database's CPU is part of the cost
    sides="berth-postgres berth-sqlite"
    measure metadata - "$sides" "${small[@]}" --keep-going 0
    measure metadata - "$sides" "${manifest[@]}"
    peak metadata berth-postgres
    peak metadata berth-sqlite
    stop berth-postgres
    stop berth-sqlite
fi

# ------------------------------------------------------------------ part: 1, 2, 3 nodes behind HAProxy
# haproxy_start N [NAME]: HAProxy in front of node1..nodeN, round-robin per request
haproxy_start() {
    local n="$1" name="${2:-lb-$1}" i port cfg
    port="$(registry_free_port)"
    cfg="${work}/${name}.cfg"
    cat >"$cfg" <<CFG
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 2
    option redispatch
    retry-on conn-failure empty-response response-timeout
frontend registry
    bind 127.0.0.1:${port}
    default_backend berth
backend berth
    balance roundrobin
    option httpchk GET /healthz
CFG
    for ((i = 1; i <= n; i++)); do
        printf '    server node%d %s check inter 500 fall 2 rise 2\n' "$i" "${ADDR[node$i]}" >>"$cfg"
    done
    start "$name" haproxy -db -f "$cfg"
    ADDR[$name]="127.0.0.1:${port}"
    AUTH[$name]="admin:${admin_password}"
    SERVERS[$name]="$(for ((i = 1; i <= n; i++)); do printf 'node%d ' "$i"; done)postgres"
    wait_http "$name" "http://${ADDR[$name]}/healthz"
}

if wants nodes; then
    make_bucket nodes
    nodes_db="$(create_db bench_nodes)"
    for i in 1 2 3; do start_berth "node$i" nodes BERTH_METADATA_URL="$nodes_db"; done
    for n in 1 2 3; do
        haproxy_start "$n"
        measure nodes - "lb-$n" "${small[@]}" --keep-going 1
        measure nodes - "lb-$n" "${manifest[@]}"
        stop "lb-$n"
    done
    # Three nodes, one SIGKILLed halfway through each test (once, not a median).
    haproxy_start 3 lb-kill
    for test in manifest small; do
        victim=node3
        if [[ "$test" == small ]]; then victim=node2; fi
        if [[ "$test" == manifest ]]; then
            (sleep "$(python3 -c "print(${manifest_secs} / 2)")"; kill -KILL "${PID[$victim]}") &
            out="$(REGISTRY_AUTH="${AUTH[lb-kill]}" "${lg[@]}" manifest-get --registry "${ADDR[lb-kill]}" \
                --repo bench/manifest-kill --connections "$manifest_conns" --duration-s "$manifest_secs" --seed 7)"
        else
            # The small pushes take a few seconds: the kill comes after about half of them would be done.
            half="$(python3 -c 'import json, sys; r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]; v = [x["seconds"] for x in r if x["side"] == "lb-3" and x["metric"] == "small_blobs"]; print(sorted(v)[len(v) // 2] / 2 if v else 1)' "$results")"
            (sleep "$half"; kill -KILL "${PID[$victim]}") &
            out="$(REGISTRY_AUTH="${AUTH[lb-kill]}" "${lg[@]}" small-blobs --registry "${ADDR[lb-kill]}" \
                --repo bench/small-kill --count "$small_count" --size "$small_size" --concurrency "$small_conc" \
                --seed 8 --keep-going 1)"
        fi
        wait $! 2>/dev/null || true
        record nodes "killed ${victim}" lb-kill 1 "$out"
        log "nodes: ${test} with ${victim} killed halfway: ${out}"
        PID[$victim]=""
    done
fi

# ------------------------------------------------------------------ report
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dist_version="$("$dist_bin" --version 2>/dev/null | awk '{print $NF}' || true)"
python3 - "${work}/meta.json" <<PY
import json, sys
json.dump({
    "runs": ${runs},
    "params": {"blob": "${blob_mib} MiB", "chunk": "${chunk_mib} MiB", "count": "${small_count}",
               "conc": "${small_conc}", "conns": "${manifest_conns}", "dur": "${manifest_secs} s"},
    "notes": [
        "commit ${commit}; Distribution ${dist_version:-n/a}; S3: ${s3_versions[*]} (berth vs Distribution on moto: s3s-fs lacks ListMultipartUploads, which Distribution needs; the other parts on ${s3_kind}); $(nproc) cores, $(uname -r)",
        "mode: $( ((quick)) && echo quick || echo full ); everything on 127.0.0.1, data under ${tmp_parent}; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)",
        "client: bench/loadgen (Rust, tokio + reqwest), on the same machine as the servers",
    ],
}, open(sys.argv[1], "w"))
PY
report="$(python3 "${bench}/report_s3.py" "$results" "${work}/meta.json")"
printf '%s\n' "$report" >"${bench}/results/s3-${stamp}.md"
printf '%s\n' "$report"
log "saved bench/results/s3-${stamp}.md (and .jsonl)"
