#!/usr/bin/env bash
# podman: build a FROM-scratch busybox image with `podman build` (vfs storage of the case's
# own), push it, remove it, pull it back and run it. When the registry wants credentials,
# `podman login` first, into an auth file inside the case's temp dir.
#
# Sandbox notes: cgroupfs + file events need no systemd; --network none needs no CNI; the
# rlimits are pinned to 1024 because podman's defaults (nofile/nproc 1048576) cannot be set
# without CAP_SYS_RESOURCE ("error setting rlimit type 7: operation not permitted").
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init

command -v podman >/dev/null || e2e_fail "podman not found"
[[ -x /bin/busybox ]] || e2e_fail "/bin/busybox missing (apt-get install busybox-static)"

ref="${REGISTRY}/$(e2e_repo podman):1"
pm=(podman --root "${E2E_TMP}/storage" --runroot "${E2E_TMP}/run" --storage-driver vfs
    --cgroup-manager cgroupfs --events-backend file --tmpdir "${E2E_TMP}/tmp")
mkdir -p "${E2E_TMP}/tmp"
e2e_defer "${pm[*]} rm -a -f; ${pm[*]} rmi -a -f"

auth=(--authfile "$REGISTRY_AUTH_FILE")
if e2e_auth; then
    printf '%s\n' "$REGISTRY_PASSWORD" | "${pm[@]}" login --tls-verify=false "${auth[@]}" \
        --username "$REGISTRY_USER" --password-stdin "$REGISTRY"
    e2e_defer "${pm[*]} logout ${auth[*]} '${REGISTRY}'"
fi

ctx="${E2E_TMP}/ctx"
mkdir -p "$ctx"
cp /bin/busybox "${ctx}/busybox"
cat >"${ctx}/Containerfile" <<'CONTAINERFILE'
FROM scratch
COPY busybox /bin/busybox
CMD ["/bin/busybox", "echo", "hello from podman"]
CONTAINERFILE

"${pm[@]}" build -q --network none -t "$ref" -f "${ctx}/Containerfile" "$ctx"
"${pm[@]}" push --tls-verify=false "${auth[@]}" --digestfile "${E2E_TMP}/digest" "$ref"
pushed="$(cat "${E2E_TMP}/digest")"
[[ "$pushed" == sha256:* ]] || e2e_fail "podman push wrote no digest"

"${pm[@]}" rmi -f "$ref"
if "${pm[@]}" image exists "$ref"; then
    e2e_fail "image still present locally after podman rmi"
fi

"${pm[@]}" pull --tls-verify=false "${auth[@]}" "$ref"
digest="$("${pm[@]}" image inspect --format '{{.Digest}}' "$ref")"
e2e_expect_eq "$digest" "$pushed" "digest of the pulled image"

out="$("${pm[@]}" run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$ref")"
e2e_expect_eq "$out" "hello from podman" "podman run output"
