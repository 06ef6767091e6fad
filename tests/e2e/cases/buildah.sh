#!/usr/bin/env bash
# buildah: build a FROM-scratch busybox image with buildah (vfs storage of the case's own),
# push it, remove it locally, pull it back and check its config and layer (push and pull with
# --creds when the registry wants credentials).
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init

command -v buildah >/dev/null || e2e_fail "buildah not found"
[[ -x /bin/busybox ]] || e2e_fail "/bin/busybox missing (apt-get install busybox-static)"

ref="${REGISTRY}/$(e2e_repo buildah):1"
bh=(buildah --root "${E2E_TMP}/storage" --runroot "${E2E_TMP}/run" --storage-driver vfs)
e2e_defer "${bh[*]} rm -a; ${bh[*]} rmi -a -f"

ctr="$("${bh[@]}" from scratch)"
"${bh[@]}" copy "$ctr" /bin/busybox /bin/busybox
"${bh[@]}" config --cmd '["/bin/busybox", "echo", "hello from buildah"]' \
    --label "berth.e2e=buildah" "$ctr"
"${bh[@]}" commit -q "$ctr" "$ref"
"${bh[@]}" rm "$ctr"
"${bh[@]}" push --tls-verify=false "${E2E_CREDS[@]}" --digestfile "${E2E_TMP}/digest" "$ref"
pushed="$(cat "${E2E_TMP}/digest")"
[[ "$pushed" == sha256:* ]] || e2e_fail "buildah push wrote no digest"

"${bh[@]}" rmi -f "$ref"
if "${bh[@]}" inspect --type image "$ref" >/dev/null 2>&1; then
    e2e_fail "image still present locally after buildah rmi"
fi

"${bh[@]}" pull --tls-verify=false "${E2E_CREDS[@]}" "$ref"
info="$("${bh[@]}" inspect --type image "$ref")"
summary="$(python3 -c '
import json, sys
d = json.load(sys.stdin)
cfg = d["OCIv1"]["config"]
print(" ".join(cfg["Cmd"]), cfg["Labels"]["berth.e2e"], d["FromImageDigest"])
' <<<"$info")"
e2e_expect_eq "$summary" "/bin/busybox echo hello from buildah buildah ${pushed}" \
    "pulled image (cmd, label, manifest digest)"

# the layer really holds busybox: mount the image and compare the binary
ctr="$("${bh[@]}" from "$ref")"
mnt="$("${bh[@]}" mount "$ctr")"
cmp "${mnt}/bin/busybox" /bin/busybox || e2e_fail "pulled /bin/busybox differs from the original"
"${bh[@]}" umount "$ctr"
"${bh[@]}" rm "$ctr"
