#!/usr/bin/env bash
# berth's vulnerability scanning, end to end, measured from the client.
#
#   bench/scan.sh [--quick] [--runs N] [--images N] [--no-debian]
#
# Each run starts a fresh berth ($BERTH_BIN, default ${CARGO_TARGET_DIR:-target}/release/berth; empty data
# dir, so an empty layer-analysis cache) and measures, polling the ECR API every 50 ms from the client:
#   - `berth vulndb import` of the five OSV zips in ../shared/testdata/osv (wall time, peak RSS)
#   - the 5-layer oci-scanner-fixture: skopeo push to a scanOnPush repository → scan COMPLETE and
#     evaluated against the database (cold); StartImageScan of the same image again (cached layers);
#     the same layers with another config pushed to another scanOnPush repository (cached layers)
#   - the same three for a Debian bookworm minbase image (debootstrap → docker import → docker push)
#   - the server's RSS before and its peak (VmHWM, reset through /proc/PID/clear_refs) during each step
# Then, once, on another fresh server: N images sharing the fixture's layers with distinct configs
# (--images, default 1,000; --quick 200) pushed over /v2 into a scanOnPush repository, the time until all
# are scanned, and two database imports (PyPI + npm, then all five again) with the time until the
# server has re-evaluated every stored scan (from its `re-evaluated scans` log line; every image's
# vulnerabilitySourceUpdatedAt is checked afterwards).
#
# Runs: 5 (--quick: 3), each cell is reported as median/min/max over the runs. Results (raw JSON lines
# and the Markdown table) go to bench/results/scan-<stamp>.*; nothing is asserted.
#
# The Debian root filesystem is built once with debootstrap (mirror: $BENCH_DEBIAN_MIRROR, else the
# first Debian URI in /etc/apt/sources.list*) and cached as a tarball in $BENCH_SCAN_CACHE (default
# /var/tmp/berth-bench-cache); delete it to rebuild. --no-debian skips the Debian rows (no docker or
# debootstrap needed).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="${root}/bench"
# shellcheck source=scripts/registry-lib.sh
source "${root}/scripts/registry-lib.sh"

quick=0
runs=""
images=""
debian=1
while (($# > 0)); do
    case "$1" in
        --quick) quick=1; shift ;;
        --runs) runs="${2:?--runs needs a number}"; shift 2 ;;
        --images) images="${2:?--images needs a number}"; shift 2 ;;
        --no-debian) debian=0; shift ;;
        -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
        *) echo "scan bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
if ((quick)); then
    runs="${runs:-3}" images="${images:-200}"
else
    runs="${runs:-5}" images="${images:-1000}"
fi

shared="${BENCH_SHARED:-${root}/../shared/testdata}"
fixture="${shared}/fixtures/oci-scanner-fixture"
osv_all=("${shared}"/osv/*/all.zip)
osv_small=("${shared}/osv/PyPI/all.zip" "${shared}/osv/npm/all.zip")
cache="${BENCH_SCAN_CACHE:-/var/tmp/berth-bench-cache}"
rootfs_tar="${cache}/debian-bookworm-minbase.tar"
export REGISTRY_TMPDIR="${BENCH_TMPDIR:-/var/tmp}"
# JSON logs, no access log; the scan worker's info lines (database loaded, scans re-evaluated) are kept
export BERTH_LOG="warn,berth::serve=info" BERTH_LOG_FORMAT=json
driver=(python3 "${bench}/scan_driver.py")

log() { printf '[scan bench] %s\n' "$*" >&2; }

berth_bin="$(registry_default_berth_bin)"
[[ -x "$berth_bin" ]] || { log "no berth binary at ${berth_bin}: build it (cargo build --release -p berth) or set BERTH_BIN"; exit 1; }
command -v skopeo >/dev/null || { log "skopeo not found (apt-get install skopeo)"; exit 1; }
python3 -c 'import boto3' 2>/dev/null || { log "python3 cannot import boto3"; exit 1; }
[[ -f "${fixture}/index.json" ]] || { log "fixture not found at ${fixture}"; exit 1; }
((${#osv_all[@]} == 5)) || log "expected 5 OSV zips under ${shared}/osv, found ${#osv_all[@]}"
for f in "${osv_all[@]}" "${osv_small[@]}"; do [[ -f "$f" ]] || { log "missing ${f}"; exit 1; }; done
if ((debian)); then
    command -v docker >/dev/null || { log "docker not found (or use --no-debian)"; exit 1; }
    docker info >/dev/null 2>&1 || { log "the docker daemon does not answer (or use --no-debian)"; exit 1; }
fi

work="$(mktemp -d "${REGISTRY_TMPDIR}/berth-scan-bench.XXXXXX")"
docker_tags=()
cleanup() {
    local t
    registry_stop S
    if ((${#docker_tags[@]})); then
        for t in "${docker_tags[@]}"; do docker rmi "$t" >/dev/null 2>&1 || true; done
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ the Debian image
debian_mirror() {
    if [[ -n "${BENCH_DEBIAN_MIRROR:-}" ]]; then echo "$BENCH_DEBIAN_MIRROR"; return; fi
    local uri
    uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
        grep -v '^[[:space:]]*#' | grep -oE 'https?://[^ ]*/debian/?' | grep -v security | head -n 1 || true)"
    echo "${uri:-http://deb.debian.org/debian}"
}

if ((debian)); then
    if [[ ! -f "$rootfs_tar" ]]; then
        command -v debootstrap >/dev/null || { log "debootstrap not found (apt-get install debootstrap), or use --no-debian"; exit 1; }
        mirror="$(debian_mirror)"
        mkdir -p "$cache"
        rootfs="${cache}/rootfs.tmp"
        rm -rf "$rootfs"
        log "building the Debian bookworm minbase root filesystem from ${mirror} (once; cached in ${cache})"
        debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"${cache}/debootstrap.log" 2>&1 ||
            { log "debootstrap failed; see ${cache}/debootstrap.log"; exit 1; }
        # as Debian's own container images: no downloaded packages, no package lists
        rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/*
        tar --numeric-owner -C "$rootfs" -cf "${rootfs_tar}.tmp" .
        mv "${rootfs_tar}.tmp" "$rootfs_tar"
        rm -rf "$rootfs"
    fi
    log "docker import of ${rootfs_tar} ($(du -h "$rootfs_tar" | cut -f1)): the image and a variant with another config"
    # both share the one layer; the variant differs only by a label in its config
    debian_image="$(docker import "$rootfs_tar" berth-bench-scan/debian:base)"
    debian_variant="$(docker import --change 'LABEL dev.berth.bench.variant=1' "$rootfs_tar" berth-bench-scan/debian:variant)"
    docker_tags+=(berth-bench-scan/debian:base berth-bench-scan/debian:variant)
    if [[ "$(docker image inspect -f '{{json .RootFS.Layers}}' "$debian_image")" != \
        "$(docker image inspect -f '{{json .RootFS.Layers}}' "$debian_variant")" ]]; then
        log "warning: the two Debian images do not share their layer"
    fi
    export DOCKER_CONFIG="${work}/docker" # the login below stays in the temp dir
    mkdir -p "$DOCKER_CONFIG"
fi

"${driver[@]}" variant-layout --src "$fixture" --dst "${work}/fixture-variant" --label bench

# ------------------------------------------------------------------ helpers
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
stamp="scan-$(date -u +%Y%m%d-%H%M%S)"
if ((quick)); then stamp+="-quick"; fi
mkdir -p "${bench}/results"
results="${bench}/results/${stamp}.jsonl"
: >"$results"
loads=()

# record RUN: append the driver's JSON lines (stdin) to the results, tagged with the run
record() {
    python3 -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        r = json.loads(line); r["run"] = int(sys.argv[1])
        print(json.dumps(r))
        sys.stderr.write("[scan bench]   %s\n" % json.dumps(r))' "$1" >>"$results"
}

# load: the load average, and the share of time some task waited for I/O over the last minute
load() {
    local io=""
    if [[ -r /proc/pressure/io ]]; then
        io=", io wait $(awk '/^some/ {sub("avg60=", "", $3); print $3 "%"}' /proc/pressure/io)"
    fi
    echo "$(cut -d' ' -f1-3 /proc/loadavg)${io}"
}

start_server() {
    loads+=("$(load)")
    registry_start berth S
    export BENCH_ADDR="$S_ADDR" BENCH_USER="$S_USER" BENCH_PASSWORD="$S_PASSWORD" BENCH_PID="$S_PID" \
        BENCH_ACCESS_KEY_ID="$S_ACCESS_KEY_ID" BENCH_SECRET_ACCESS_KEY="$S_SECRET_ACCESS_KEY" \
        BENCH_LOG="${S_DIR}/server.log"
    log "berth on ${S_ADDR} (pid ${S_PID}), data in ${S_DIR}/data"
}

stop_server() {
    cp "${S_DIR}/server.log" "${work}/server-$1.log" 2>/dev/null || true
    registry_stop S
}

# import_cmd ZIP...: sets cmd to the import command for this server's data dir
import_cmd() { cmd=(env "BERTH_DATA_DIR=${S_DIR}/data" "$berth_bin" vulndb import "$@"); }

# import_all RUN: times the import of all five databases and waits until the server has loaded it
import_all() {
    local offset
    offset="$("${driver[@]}" log-size)"
    sync
    import_cmd "${osv_all[@]}"
    "${driver[@]}" timed-cmd --metric vulndb_import -- "${cmd[@]}" 2>"${work}/import.out" | record "$1"
    "${driver[@]}" wait-log --pattern "vulnerability database loaded" --offset "$offset" --timeout 60
}

# skopeo_cmd SRC_LAYOUT DEST_REF: sets cmd to the skopeo copy of the layout's image
skopeo_cmd() {
    cmd=(skopeo copy -q --dest-tls-verify=false --dest-creds "${S_USER}:${S_PASSWORD}"
        "oci:${1}:scanner-fixture:1" "docker://${S_ADDR}/${2}")
}

# ------------------------------------------------------------------ single-image scans, per run
for ((run = 1; run <= runs; run++)); do
    log "run ${run}/${runs}"
    start_server
    import_all "$run"

    "${driver[@]}" create-repo scan/fixture --scan-on-push
    "${driver[@]}" create-repo scan/fixture-variant --scan-on-push
    sync
    skopeo_cmd "$fixture" scan/fixture:1
    "${driver[@]}" push-and-wait --metric fixture_cold --repo scan/fixture --tag 1 -- "${cmd[@]}" | record "$run"
    "${driver[@]}" rescan-and-wait --metric fixture_rescan --repo scan/fixture --tag 1 | record "$run"
    skopeo_cmd "${work}/fixture-variant" scan/fixture-variant:1
    "${driver[@]}" push-and-wait --metric fixture_cached_push --repo scan/fixture-variant --tag 1 -- \
        "${cmd[@]}" | record "$run"

    if ((debian)); then
        "${driver[@]}" create-repo scan/debian --scan-on-push
        "${driver[@]}" create-repo scan/debian-variant --scan-on-push
        docker login --username "$S_USER" --password-stdin "$S_ADDR" <<<"$S_PASSWORD" >/dev/null 2>&1
        docker tag "$debian_image" "${S_ADDR}/scan/debian:1"
        docker tag "$debian_variant" "${S_ADDR}/scan/debian-variant:1"
        docker_tags+=("${S_ADDR}/scan/debian:1" "${S_ADDR}/scan/debian-variant:1")
        sync
        "${driver[@]}" push-and-wait --metric debian_cold --repo scan/debian --tag 1 -- \
            docker push "${S_ADDR}/scan/debian:1" | record "$run"
        "${driver[@]}" rescan-and-wait --metric debian_rescan --repo scan/debian --tag 1 | record "$run"
        "${driver[@]}" push-and-wait --metric debian_cached_push --repo scan/debian-variant --tag 1 -- \
            docker push "${S_ADDR}/scan/debian-variant:1" | record "$run"
        docker rmi "${S_ADDR}/scan/debian:1" "${S_ADDR}/scan/debian-variant:1" >/dev/null
        docker logout "$S_ADDR" >/dev/null 2>&1 || true
    fi
    stop_server "run${run}"
done

# ------------------------------------------------------------------ many images, re-evaluation
log "${images} images sharing the fixture's layers, then re-evaluation after two imports"
start_server
import_all 0
"${driver[@]}" create-repo scan/many --scan-on-push
skopeo_cmd "$fixture" scan/many:base
"${driver[@]}" push-and-wait --metric many_base --repo scan/many --tag base -- "${cmd[@]}" | record 0
sync
"${driver[@]}" push-many --repo scan/many --base-tag base --count "$images" | record 0
sync
import_cmd "${osv_small[@]}"
"${driver[@]}" reeval --metric reeval_pypi_npm --repo scan/many --count "$images" -- "${cmd[@]}" | record 0
sync
import_cmd "${osv_all[@]}"
"${driver[@]}" reeval --metric reeval_all --repo scan/many --count "$images" -- "${cmd[@]}" | record 0
stop_server many
loads+=("$(load)")

# ------------------------------------------------------------------ report
others=()
for tool in trivy grype; do
    if command -v "$tool" >/dev/null; then others+=("${tool} is installed but not timed here"); fi
done
((${#others[@]})) || others=("no reference scanner: neither Trivy nor Grype is installed, and there is no Distribution equivalent (it does not scan)")
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty=""
if [[ -n "$(git -C "$root" status --porcelain -- crates 2>/dev/null)" ]]; then dirty=" (crates/ has uncommitted changes)"; fi
debian_note="Debian: not measured (--no-debian)"
if ((debian)); then
    debian_note="Debian bookworm minbase ($(du -h "$rootfs_tar" | cut -f1) tar, one layer; docker $(docker version -f '{{.Server.Version}}' 2>/dev/null))"
fi
binary="${berth_bin} (modified $(date -u -r "$berth_bin" +%Y-%m-%dT%H:%M:%SZ), sha256 $(sha256sum "$berth_bin" | cut -c1-12))"
python3 - "${work}/meta.json" "$runs" "$images" "$commit$dirty" "$started" "$debian_note" "${others[*]}" "$binary" "${loads[@]}" <<'PY'
import json, os, sys
path, runs, images, commit, started, debian_note, others, binary, *loads = sys.argv[1:]
meta = {
    "started": started,
    "params": {},
    "notes": [
        f"working tree at commit {commit}; {os.cpu_count()} cores, {os.uname().release}; client and server on one machine",
        f"berth binary {binary}",
        f"{runs} run(s) of the single-image scans, each on a fresh server (empty layer cache); "
        f"{int(images):,} images for the bulk rows, once",
        "times: client wall clock; scans polled with DescribeImageScanFindings every 50 ms "
        "(COMPLETE and vulnerabilitySourceUpdatedAt present); re-evaluation from the server log's timestamps",
        debian_note,
        "load average (1/5/15 min) and I/O pressure (some, avg60) at each server start and at the end: " + "; ".join(loads),
    ],
    "footnotes": [others],
}
json.dump(meta, open(path, "w"))
PY
report="$("${driver[@]}" report "$results" "${work}/meta.json")"
printf '%s\n' "$report" >"${bench}/results/${stamp}.md"
printf '%s\n' "$report"
log "saved bench/results/${stamp}.md (and .jsonl)"
