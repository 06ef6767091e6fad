#!/usr/bin/env bash
# scan: berth's vulnerability scanning end to end with real clients. berth only (xfail on
# Distribution, which has no scanning). Needs the credentials scripts/with-registry.sh exports
# for berth (BERTH_ENDPOINT, BERTH_ACCESS_KEY_ID/_SECRET_ACCESS_KEY, BERTH_BIN, REGISTRY_USER/
# _PASSWORD) and the server's data dir (BERTH_DATA_DIR) for the offline `berth vulndb import`.
#
#  1. aws ecr create-repository --image-scanning-configuration scanOnPush=true
#  2. the five OSV zips of ../shared/testdata/osv/*/all.zip pushed as one OCI artifact with the
#     oras SDK, then `berth vulndb import oci://REPO:TAG` (the air-gapped import path)
#  3. skopeo copy of the oci-scanner-fixture layout into the scanOnPush repository
#  4. aws ecr describe-image-scan-findings polled until the scan on push is COMPLETE against
#     the imported database (vulnerabilitySourceUpdatedAt set); findings derived from the data:
#     PYSEC-2021-142 on PyYAML 5.3.1 (fixed in 5.4), DEBCL-xz-utils-GHSA-5qpq-xqfv-j9pg on
#     liblzma5, nothing on urllib3 / minimist / perl (upgraded or whited out in the top layer);
#     describe-images summary, `berth findings --json --min-severity`, `berth scan --wait`
#  5. the CycloneDX SBOM the scan stored as a referrer, found with the oras SDK through
#     GET /v2/<name>/referrers/<digest>: a CycloneDX 1.6 document listing pkg:pypi/pyyaml
#  6. a real Debian: `debootstrap --variant=minbase bookworm` (rootfs tarball cached under
#     /var/tmp/berth-e2e-cache/, keyed by the mirror's InRelease), `docker import`,
#     `docker push` to a scanOnPush repository; the SBOM must list every installed dpkg
#     package as pkg:deb/debian/..., and the findings must be exactly what an independent
#     `dpkg --compare-versions` of the rootfs's dpkg status against the Debian records gives.
#     Skipped (e2e_skip) only when no Debian mirror answers and nothing is cached.
#
# Environment: E2E_TESTDATA (default <repo>/../shared/testdata), E2E_CACHE_DIR (default
# /var/tmp/berth-e2e-cache), E2E_DEBIAN_MIRROR (default: the Debian URI in /etc/apt/sources.list*).
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init

[[ -n "${BERTH_ENDPOINT:-}" && -n "${BERTH_ACCESS_KEY_ID:-}" ]] ||
    e2e_fail "needs berth: no access key exported (BERTH_ENDPOINT, BERTH_ACCESS_KEY_ID); this registry has no scanning"
[[ -n "${BERTH_BIN:-}" && -x "${BERTH_BIN}" ]] || e2e_fail "BERTH_BIN (the berth CLI) not set or not executable: '${BERTH_BIN:-}'"
[[ -n "${BERTH_DATA_DIR:-}" && -d "${BERTH_DATA_DIR}" ]] ||
    e2e_fail "BERTH_DATA_DIR (the server's data dir, exported by scripts/with-registry.sh) not set or missing: '${BERTH_DATA_DIR:-}'"
e2e_auth || e2e_fail "needs berth's administrator credentials (REGISTRY_USER / REGISTRY_PASSWORD)"
command -v aws >/dev/null || e2e_fail "the AWS CLI is missing (pip install awscli)"
command -v skopeo >/dev/null || e2e_fail "skopeo not found"
command -v docker >/dev/null || e2e_fail "docker CLI not found"
command -v dpkg >/dev/null || e2e_fail "dpkg not found (the Debian check compares versions with dpkg --compare-versions)"
python3 -c 'import oras.client' || e2e_fail "the oras Python SDK is missing (pip install oras)"

testdata="${E2E_TESTDATA:-$(cd "${E2E_ROOT}/../.." && pwd)/../shared/testdata}"
ecosystems=(Debian Go PyPI crates npm)
for e in "${ecosystems[@]}"; do
    [[ -f "${testdata}/osv/${e}/all.zip" ]] ||
        e2e_fail "OSV test data missing: ${testdata}/osv/${e}/all.zip (the repository must be cloned next to shared/, or set E2E_TESTDATA)"
done
fixture="${testdata}/fixtures/oci-scanner-fixture"
[[ -f "${fixture}/index.json" ]] || e2e_fail "fixture layout not found at ${fixture}"

e2e_aws_env

ecr() { # ARGS...: one `aws ecr` call against berth, JSON output
    aws ecr "$@" --endpoint-url "$BERTH_ENDPOINT" --output json
}
indent() { sed 's/^/  /'; }
berth() { # the berth CLI as the administrator (BERTH_ENDPOINT / BERTH_ACCESS_KEY_ID / ...)
    "$BERTH_BIN" "$@"
}

# ------------------------------------------------------------------ the oras SDK side
# push-vulndb REF FILE...   one artifact whose layers are FILEs (application/zip)
# sbom NAME DIGEST OUT      finds the CycloneDX referrer of NAME@DIGEST through the referrers API
#                           (the SDK's authenticated request), reads its manifest with the SDK and
#                           downloads its one layer to OUT; prints the referrer's digest
cat >"${E2E_TMP}/scanoras.py" <<'PY'
import json, os, sys
import oras.client

CYCLONEDX = "application/vnd.cyclonedx+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
registry = os.environ["REGISTRY"]

def client():
    # basic: oras-py 0.2.43's token backend cannot push to a registry that scopes its tokens
    # (see orasctl.py).
    c = oras.client.OrasClient(hostname=registry, insecure=True, auth_backend="basic")
    c.login(username=os.environ["REGISTRY_USER"], password=os.environ["REGISTRY_PASSWORD"],
            hostname=registry, config_path=os.path.join(os.environ["E2E_TMP"], "oras-auth.json"))
    return c

cmd, args = sys.argv[1], sys.argv[2:]
c = client()
if cmd == "push-vulndb":
    cfg = os.path.join(os.environ["E2E_TMP"], "vulndb-config.json")
    with open(cfg, "w") as f:
        json.dump({"source": "berth e2e: shared/testdata/osv"}, f)
    resp = c.push(target=args[0], files=[f"{p}:application/zip" for p in args[1:]],
                  manifest_config=f"{cfg}:application/vnd.berth.e2e.osv.v1+json",
                  disable_path_validation=True, quiet=True)
    if resp.status_code != 201:
        sys.exit(f"oras push of {args[0]} answered HTTP {resp.status_code}")
    print(f"pushed {args[0]} {resp.headers.get('Docker-Content-Digest')}")
elif cmd == "sbom":
    name, digest, out = args
    url = f"{c.prefix}://{registry}/v2/{name}/referrers/{digest}"
    r = c.do_request(f"{url}?artifactType={CYCLONEDX.replace('+', '%2B')}", "GET",
                     headers={"Accept": OCI_INDEX})
    if r.status_code != 200:
        sys.exit(f"GET referrers of {name}@{digest}: HTTP {r.status_code}: {r.text[:300]}")
    index = r.json()
    print("referrers:", json.dumps(index.get("manifests")), file=sys.stderr)
    refs = [m for m in index.get("manifests") or [] if m.get("artifactType") == CYCLONEDX]
    if len(refs) != 1:
        sys.exit(f"expected one {CYCLONEDX} referrer of {name}@{digest}, got {len(refs)}: {index}")
    ref = refs[0]["digest"]
    container = c.get_container(f"{registry}/{name}@{ref}")
    manifest = c.get_manifest(container, allowed_media_type=[OCI_MANIFEST])
    if manifest.get("artifactType") != CYCLONEDX:
        sys.exit(f"SBOM manifest {ref} has artifactType {manifest.get('artifactType')!r}")
    if (manifest.get("subject") or {}).get("digest") != digest:
        sys.exit(f"SBOM manifest {ref} has subject {manifest.get('subject')!r}, want {digest}")
    layers = manifest.get("layers") or []
    if len(layers) != 1 or layers[0].get("mediaType") != CYCLONEDX:
        sys.exit(f"SBOM manifest {ref} layers: {layers}")
    c.download_blob(container, layers[0]["digest"], out)
    print(ref)
else:
    sys.exit(f"unknown command {cmd}")
PY
oras_py() {
    python3 "${E2E_TMP}/scanoras.py" "$@"
}

# ------------------------------------------------------------------ helpers
# wait_scan REPO TAG NOT_BEFORE TIMEOUT: polls describe-image-scan-findings until the scan is
# COMPLETE against the current database (vulnerabilitySourceUpdatedAt set, not older than
# NOT_BEFORE, epoch seconds); leaves the full answer (all pages) in $E2E_TMP/findings.json.
wait_scan() {
    local repo="$1" tag="$2" not_before="$3" timeout="$4" deadline out status last=""
    deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if ! out="$(ecr describe-image-scan-findings --repository-name "$repo" --image-id "imageTag=${tag}" 2>&1)"; then
            # The scan on push is queued right after the push; until a worker has taken it there
            # may be no scan to describe yet.
            [[ "$out" == *ScanNotFoundException* ]] || e2e_fail "describe-image-scan-findings ${repo}:${tag}: ${out}"
            status="(no scan yet)"
        else
            status="$(field 'd["imageScanStatus"]["status"] + " source=" + str((d.get("imageScanFindings") or {}).get("vulnerabilitySourceUpdatedAt"))' <<<"$out")"
            case "$status" in
                FAILED* | UNSUPPORTED_IMAGE* | FINDINGS_UNAVAILABLE*)
                    e2e_fail "scan of ${repo}:${tag} ended ${status}: $(field 'd["imageScanStatus"].get("description")' <<<"$out")" ;;
            esac
            if [[ "$status" == COMPLETE* && "$status" != *source=None ]] &&
                python3 -c '
import datetime, json, sys
t = json.load(sys.stdin)["imageScanFindings"]["vulnerabilitySourceUpdatedAt"]
if isinstance(t, str):
    t = datetime.datetime.fromisoformat(t).timestamp()
sys.exit(0 if float(t) >= float(sys.argv[1]) - 1 else 1)' "$not_before" <<<"$out"; then
                printf '%s\n' "$out" >"${E2E_TMP}/findings.json"
                echo "scan ${repo}:${tag}: ${status}"
                return 0
            fi
        fi
        [[ "$status" != "$last" ]] && echo "  ${repo}:${tag}: ${status}"
        last="$status"
        sleep 0.5
    done
    e2e_fail "scan of ${repo}:${tag} not COMPLETE against the imported database after ${timeout}s (last: ${last})"
}

# findings_table <DESCRIBE-JSON: "ID PACKAGE VERSION FIXED SEVERITY" per finding, sorted; also
# checks that the basic findings, enhanced findings and severity counts agree.
findings_table() {
    python3 -c '
import collections, json, sys
d = json.load(sys.stdin)["imageScanFindings"]
rows, counts = [], collections.Counter()
for f in d.get("findings", []):
    a = {x["key"]: x["value"] for x in f.get("attributes", [])}
    rows.append((f["name"], a.get("package_name"), a.get("package_version"), a.get("fixed_in_version", "-"), f["severity"]))
    counts[f["severity"]] += 1
enhanced = sorted(e["packageVulnerabilityDetails"]["vulnerabilityId"] for e in d.get("enhancedFindings", []))
if enhanced and enhanced != sorted(r[0] for r in rows):
    sys.exit(f"findings and enhancedFindings differ: {sorted(r[0] for r in rows)} vs {enhanced}")
if dict(counts) != d.get("findingSeverityCounts", {}):
    sys.exit("findingSeverityCounts %s do not count the findings %s" % (d.get("findingSeverityCounts"), dict(counts)))
for r in sorted(rows):
    print(*r)'
}

suffix="$(e2e_rand)"
repo="e2e/scan-${suffix}"
vulndb_repo="e2e/vulndb-${suffix}"
deb_repo="e2e/scan-debian-${suffix}"

# ------------------------------------------------------------------ 1. repository
e2e_step "aws ecr create-repository ${repo} --image-scanning-configuration scanOnPush=true"
created="$(ecr create-repository --repository-name "$repo" --image-scanning-configuration scanOnPush=true)"
e2e_defer "ecr delete-repository --repository-name '$repo' --force >/dev/null 2>&1 || true"
e2e_expect_eq "$(field 'd["repository"]["imageScanningConfiguration"]["scanOnPush"]' <<<"$created")" "True" \
    "create-repository imageScanningConfiguration.scanOnPush"

# ------------------------------------------------------------------ 2. vulnerability database
e2e_step "oras push of the OSV zips as ${vulndb_repo}:1, berth vulndb import oci://${vulndb_repo}:1"
mkdir -p "${E2E_TMP}/osv"
zips=()
for e in "${ecosystems[@]}"; do
    cp "${testdata}/osv/${e}/all.zip" "${E2E_TMP}/osv/${e}.zip" # one distinct file name per layer
    zips+=("${E2E_TMP}/osv/${e}.zip")
done
oras_py push-vulndb "${REGISTRY}/${vulndb_repo}:1" "${zips[@]}"
e2e_defer "ecr delete-repository --repository-name '$vulndb_repo' --force >/dev/null 2>&1 || true"
imported_at="$(date +%s)"
import_out="$(berth vulndb import "oci://${vulndb_repo}:1" --label "e2e scan ${suffix}" 2>&1)" ||
    e2e_fail "berth vulndb import oci://${vulndb_repo}:1 failed: ${import_out}"
echo "$import_out"
# Every record of the zips that is not withdrawn becomes an advisory, and each zip's ecosystem
# has a line with its count.
want_records="$(python3 -c '
import json, sys, zipfile
n = 0
for path in sys.argv[1:]:
    with zipfile.ZipFile(path) as z:
        n += sum(1 for f in z.namelist() if f.endswith(".json") and not json.loads(z.read(f)).get("withdrawn"))
print(n)' "${zips[@]}")"
e2e_expect_contains "$import_out" "imported ${want_records} advisories" "berth vulndb import: advisories (records not withdrawn)"
for eco in Debian PyPI Go npm crates.io; do
    grep -Eq "^  ${eco}[^ ]* +[1-9][0-9]*$" <<<"$import_out" ||
        e2e_fail "berth vulndb import did not report records of ${eco}: ${import_out}"
done

# ------------------------------------------------------------------ 3. push the fixture
e2e_step "skopeo copy oci:${fixture}:scanner-fixture:1 docker://${REGISTRY}/${repo}:1"
skopeo copy --preserve-digests --dest-tls-verify=false "${E2E_DEST_CREDS[@]}" \
    "oci:${fixture}:scanner-fixture:1" "docker://${REGISTRY}/${repo}:1"
fixture_digest="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "${fixture}/index.json")"

# ------------------------------------------------------------------ 4. findings
e2e_step "aws ecr describe-image-scan-findings ${repo}:1 until the scan on push is COMPLETE"
wait_scan "$repo" 1 "$imported_at" 120
table="$(findings_table <"${E2E_TMP}/findings.json")"
indent <<<"$table"
grep -Eqi '^PYSEC-2021-142 PyYAML 5\.3\.1 5\.4 ' <<<"$table" ||
    e2e_fail "no finding PYSEC-2021-142 on PyYAML 5.3.1 fixed in 5.4"
grep -Eq '^DEBCL-xz-utils-GHSA-5qpq-xqfv-j9pg liblzma5 ' <<<"$table" ||
    e2e_fail "no finding DEBCL-xz-utils-GHSA-5qpq-xqfv-j9pg on liblzma5"
# The top layer whites out urllib3 1.24.1 (1.26.18 is clean), replaces minimist 1.2.0 by 1.2.8
# under an opaque directory and upgrades perl to 5.36.0-7+deb12u4 (the fixed version of every
# perl record): none of them may show up.
if bad="$(awk 'tolower($2) ~ /^(urllib3|minimist|perl|perl-base|perl-modules-.*|libperl.*)$/' <<<"$table")" && [[ -n "$bad" ]]; then
    e2e_fail "findings for packages the top layer replaced: ${bad}"
fi
fixture_findings="$(wc -l <<<"$table")"

e2e_step "aws ecr describe-images shows the scan status and summary"
described="$(ecr describe-images --repository-name "$repo" --image-ids "imageTag=1")"
e2e_expect_eq "$(field 'd["imageDetails"][0]["imageDigest"]' <<<"$described")" "$fixture_digest" "describe-images digest"
e2e_expect_eq "$(field 'd["imageDetails"][0]["imageScanStatus"]["status"]' <<<"$described")" "COMPLETE" "describe-images imageScanStatus"
e2e_expect_eq "$(field 'sum(d["imageDetails"][0]["imageScanFindingsSummary"]["findingSeverityCounts"].values())' <<<"$described")" \
    "$fixture_findings" "describe-images findingSeverityCounts total"

e2e_step "berth findings ${repo}:1 --json / --min-severity HIGH"
all_json="$(berth findings "${repo}:1" --json)"
e2e_expect_eq "$(field 'len(d["imageScanFindings"]["enhancedFindings"])' <<<"$all_json")" "$fixture_findings" \
    "berth findings --json: number of findings"
high_json="$(berth findings "${repo}:1" --json --min-severity HIGH)"
high="$(field '" ".join(sorted({f["severity"] for f in d["imageScanFindings"]["enhancedFindings"]}))' <<<"$high_json")"
echo "  severities at or above HIGH: ${high:-(none)}"
[[ -z "$(tr ' ' '\n' <<<"$high" | grep -Evx 'CRITICAL|HIGH|' || true)" ]] ||
    e2e_fail "berth findings --min-severity HIGH listed severities ${high}"
want_high="$(field 'sum(n for s, n in d["imageScanFindings"]["findingSeverityCounts"].items() if s in ("CRITICAL", "HIGH"))' <<<"$all_json")"
e2e_expect_eq "$(field 'len(d["imageScanFindings"]["enhancedFindings"])' <<<"$high_json")" "$want_high" \
    "berth findings --min-severity HIGH: number of findings"

e2e_step "berth scan ${repo}:1 --wait (StartImageScan: scan again on demand)"
rescan="$(berth scan "${repo}:1" --wait --timeout 120)"
echo "$rescan" | head -n 5
e2e_expect_contains "$rescan" "scan COMPLETE" "berth scan --wait"
e2e_expect_contains "$rescan" "PYSEC-2021-142" "berth scan --wait findings"

# ------------------------------------------------------------------ 5. SBOM referrer
e2e_step "the CycloneDX SBOM referrer of ${repo}@${fixture_digest} (oras SDK)"
sbom_ref="$(oras_py sbom "$repo" "$fixture_digest" "${E2E_TMP}/fixture-sbom.json")"
echo "  SBOM manifest ${sbom_ref}"
python3 - "${E2E_TMP}/fixture-sbom.json" "$fixture_digest" <<'PY'
import json, sys
bom = json.load(open(sys.argv[1]))
def need(cond, msg):
    if not cond:
        sys.exit(f"fixture SBOM: {msg}")
need(bom.get("bomFormat") == "CycloneDX", f"bomFormat {bom.get('bomFormat')!r}")
need(bom.get("specVersion") == "1.6", f"specVersion {bom.get('specVersion')!r}")
need(bom.get("metadata", {}).get("component", {}).get("version") == sys.argv[2], "metadata.component is not the image")
purls = [c.get("purl", "") for c in bom.get("components", [])]
need(any(p.startswith("pkg:pypi/pyyaml@5.3.1") for p in purls), "no pkg:pypi/pyyaml@5.3.1 component")
need(not any(p.startswith("pkg:pypi/urllib3@1.24.1") for p in purls), "lists the whited-out urllib3 1.24.1")
need(any(p.startswith("pkg:deb/debian/liblzma5@") for p in purls), "no pkg:deb/debian/liblzma5 component")
kinds = {}
for p in purls:
    if p.startswith("pkg:"):
        kinds[p[4:].split("/")[0]] = kinds.get(p[4:].split("/")[0], 0) + 1
print(f"  CycloneDX {bom['specVersion']}: {len(purls)} components {kinds}")
PY

# ------------------------------------------------------------------ 6. a real Debian
e2e_step "debootstrap --variant=minbase bookworm, docker import, docker push to a scanOnPush repository"
arch="$(dpkg --print-architecture)"
cache_dir="${E2E_CACHE_DIR:-/var/tmp/berth-e2e-cache}"
mkdir -p "$cache_dir" 2>/dev/null || cache_dir="${E2E_TMP}/cache" # not writable: no cache
mkdir -p "$cache_dir"
mirror="${E2E_DEBIAN_MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v '^[[:space:]]*#' | grep -Eo 'https?://[^[:space:]]+' | grep -E '/debian/?$' | head -n 1 || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"
mirror="${mirror%/}"
rootfs_tar=""
if curl -fsS --max-time 30 -o "${E2E_TMP}/InRelease" "${mirror}/dists/bookworm/InRelease"; then
    # Keyed by the suite's InRelease: a new point release on the mirror gives a new rootfs.
    release_date="$(date -u -d "$(sed -n 's/^Date: //p' "${E2E_TMP}/InRelease")" +%Y%m%d)"
    rootfs_tar="${cache_dir}/debootstrap-bookworm-minbase-${arch}-${release_date}-$(sha256sum "${E2E_TMP}/InRelease" | cut -c1-12).tar"
    echo "mirror ${mirror}: bookworm $(sed -n 's/^Version: //p' "${E2E_TMP}/InRelease") of ${release_date}"
else
    echo "mirror ${mirror} does not answer"
    # shellcheck disable=SC2012  # our own file names, no odd characters
    rootfs_tar="$(ls -t "${cache_dir}"/debootstrap-bookworm-minbase-"${arch}"-*.tar 2>/dev/null | head -n 1 || true)"
    if [[ -n "$rootfs_tar" ]]; then
        echo "using the newest cached rootfs ${rootfs_tar}"
    fi
fi

if [[ -z "$rootfs_tar" ]]; then
    e2e_skip "debootstrap: no Debian mirror reachable at ${mirror} and no cached rootfs in ${cache_dir}"
else
    if [[ -f "$rootfs_tar" ]]; then
        echo "cached rootfs ${rootfs_tar} ($(du -m "$rootfs_tar" | cut -f1) MB)"
    elif ((EUID != 0)); then
        e2e_skip "debootstrap needs root (and nothing is cached in ${cache_dir})"
        rootfs_tar=""
    else
        command -v debootstrap >/dev/null || e2e_fail "debootstrap not found (apt-get install debootstrap)"
        t0=$SECONDS
        rootfs="${E2E_TMP}/rootfs"
        if ! debootstrap --variant=minbase --arch="$arch" bookworm "$rootfs" "$mirror" >"${E2E_TMP}/debootstrap.log" 2>&1; then
            tail -n 15 "${E2E_TMP}/debootstrap.log" | sed 's/^/  | /'
            if grep -Eq "Couldn't download|Failed getting release file|Temporary failure resolving|Could not resolve" "${E2E_TMP}/debootstrap.log"; then
                rootfs_tar=""
                e2e_skip "debootstrap could not download from ${mirror}: $(grep -E "Couldn't download|Failed getting|resolv" "${E2E_TMP}/debootstrap.log" | tail -n 1)"
            else
                e2e_fail "debootstrap failed: $(tail -n 1 "${E2E_TMP}/debootstrap.log")"
            fi
        fi
        if [[ -n "$rootfs_tar" ]]; then
            echo "debootstrap took $((SECONDS - t0))s"
            e2e_defer "rm -f '${rootfs_tar}.tmp.$$'"
            tar --numeric-owner --xattrs -C "$rootfs" -cf "${rootfs_tar}.tmp.$$" .
            mv -f "${rootfs_tar}.tmp.$$" "$rootfs_tar"
            rm -rf "$rootfs"
            echo "cached ${rootfs_tar} ($(du -m "$rootfs_tar" | cut -f1) MB)"
        fi
    fi
fi

if [[ -n "$rootfs_tar" ]]; then
    ecr create-repository --repository-name "$deb_repo" --image-scanning-configuration scanOnPush=true >/dev/null
    e2e_defer "ecr delete-repository --repository-name '$deb_repo' --force >/dev/null 2>&1 || true"
    deb_ref="${REGISTRY}/${deb_repo}:bookworm"
    e2e_docker_login
    e2e_defer "docker rmi -f '$deb_ref'"
    docker import "$rootfs_tar" "$deb_ref"
    push_out="$(docker push "$deb_ref")"
    pushed_at=$SECONDS
    echo "$push_out" | tail -n 1
    deb_digest="$(grep -o 'digest: sha256:[0-9a-f]*' <<<"$push_out" | cut -d' ' -f2)"
    [[ -n "$deb_digest" ]] || e2e_fail "docker push of ${deb_ref} printed no digest"

    e2e_step "the scan on push of ${deb_repo}:bookworm"
    wait_scan "$deb_repo" bookworm "$imported_at" 300
    scan_took=$((SECONDS - pushed_at))
    # The server's own account: from imagePushedAt to imageScanCompletedAt (timestamps as the
    # CLI prints them: epoch seconds for CLI v1, ISO 8601 otherwise).
    server_took="$(ecr describe-images --repository-name "$deb_repo" --image-ids imageTag=bookworm | python3 -c '
import datetime, json, sys
d = json.load(sys.stdin)["imageDetails"][0]
t = lambda v: float(v) if not isinstance(v, str) else datetime.datetime.fromisoformat(v).timestamp()
print("%.1f" % (t(d["imageScanFindingsSummary"]["imageScanCompletedAt"]) - t(d["imagePushedAt"])))')"
    deb_table="$(findings_table <"${E2E_TMP}/findings.json")"

    # What the scan must find, derived independently from the image itself: every installed
    # package of the rootfs's dpkg status, and for each Debian record (all "introduced 0, fixed
    # F" on a source package) the binary packages built from that source whose source version
    # is older than F by dpkg --compare-versions. Nothing is hard-coded about the mirror. Observed
    # on bookworm 12.15 (InRelease of 2026-07-11, the point release the records were derived
    # from): 88 installed packages and 18 findings, the positives of shared/testdata/README.md:
    # 17 records (apt CVE-2026-109518, pcre2 x2, xz-utils GHSA-5qpq-xqfv-j9pg, 13 perl) on the
    # binary packages built from them (apt and libapt-pkg6.0 2.6.1, libpcre2-8-0 10.42-1,
    # liblzma5 5.4.1-1+deb12u1, perl-base 5.36.0-7+deb12u3). A newer point release moves these
    # versions, and the expectation moves with them.
    tar -xOf "$rootfs_tar" ./var/lib/dpkg/status >"${E2E_TMP}/dpkg-status"
    python3 - "${E2E_TMP}/dpkg-status" "${testdata}/osv/Debian/all.zip" >"${E2E_TMP}/expected" <<'PY'
import json, re, subprocess, sys, zipfile
installed = []  # (package, version, source, source version)
for para in open(sys.argv[1], encoding="utf-8").read().split("\n\n"):
    f = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", para, re.M))
    if "Package" not in f or not f.get("Status", "").endswith(" installed"):
        continue
    m = re.match(r"^(\S+)(?: \((\S+)\))?$", f.get("Source", f["Package"]))
    installed.append((f["Package"], f["Version"], m.group(1), m.group(2) or f["Version"]))
print("installed", len(installed))
for name, version, src, srcver in installed:
    print("package", name, version)
with zipfile.ZipFile(sys.argv[2]) as z:
    for n in z.namelist():
        rec = json.loads(z.read(n))
        for a in rec.get("affected", []):
            if a["package"]["ecosystem"] != "Debian:12":
                continue
            fixed = [e["fixed"] for r in a.get("ranges", []) for e in r["events"] if "fixed" in e]
            for name, version, src, srcver in installed:
                if src == a["package"]["name"] and all(
                        subprocess.run(["dpkg", "--compare-versions", srcver, "lt", fx]).returncode == 0 for fx in fixed):
                    print("finding", rec["id"], name, version)
PY
    want_packages="$(awk '$1 == "installed" {print $2}' "${E2E_TMP}/expected")"
    want_findings="$(awk '$1 == "finding" {print $2, $3, $4}' "${E2E_TMP}/expected" | sort)"
    got_findings="$(awk '{print $1, $2, $3}' <<<"$deb_table" | sort)"
    echo "  the image's dpkg status: ${want_packages} installed packages; expected findings:"
    indent <<<"$want_findings"
    ((want_packages >= 80)) || e2e_fail "only ${want_packages} installed packages in the debootstrap rootfs"
    [[ -n "$want_findings" ]] || e2e_fail "the Debian records give no finding for this rootfs: nothing to check"
    if [[ "$got_findings" != "$want_findings" ]]; then
        diff <(echo "$want_findings") <(echo "$got_findings") | sed 's/^/  /' || true
        e2e_fail "the Debian image's findings differ from dpkg --compare-versions of its status (< expected, > berth)"
    fi

    e2e_step "the SBOM referrer of ${deb_repo}@${deb_digest} lists every installed package"
    oras_py sbom "$deb_repo" "$deb_digest" "${E2E_TMP}/debian-sbom.json" >/dev/null
    got_packages="$(python3 -c '
import json, sys, urllib.parse
bom = json.load(open(sys.argv[1]))
assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6", (bom["bomFormat"], bom["specVersion"])
for c in bom["components"]:
    p = c.get("purl", "")
    if p.startswith("pkg:deb/debian/"):
        name, _, version = p[len("pkg:deb/debian/"):].split("?")[0].partition("@")
        print(urllib.parse.unquote(name), urllib.parse.unquote(version))
' "${E2E_TMP}/debian-sbom.json" | sort)"
    want_list="$(awk '$1 == "package" {print $2, $3}' "${E2E_TMP}/expected" | sort)"
    if [[ "$got_packages" != "$want_list" ]]; then
        diff <(echo "$want_list") <(echo "$got_packages") | head -n 20 | sed 's/^/  /' || true
        e2e_fail "the SBOM's pkg:deb/debian components differ from the rootfs's dpkg status (< dpkg, > SBOM)"
    fi
    echo "debian: ${want_packages} dpkg packages = ${want_packages} pkg:deb/debian SBOM components;" \
        "$(wc -l <<<"$deb_table") findings ($(awk '{print $5}' <<<"$deb_table" | sort | uniq -c | awk '{printf "%s %s, ", $2, $1}' | sed 's/, $//'));" \
        "scan on push: COMPLETE ${scan_took}s after docker push returned (server: ${server_took}s from imagePushedAt to imageScanCompletedAt)"
fi

echo "scan: ok (fixture: ${fixture_findings} findings; ${SECONDS}s)"
