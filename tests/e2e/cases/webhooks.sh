#!/usr/bin/env bash
# webhooks: a real `skopeo copy` into berth triggers a signed delivery to a receiver written in Python. berth only
# (it starts a berth of its own with BERTH_WEBHOOKS_ALLOW_PRIVATE=true, so that a loopback receiver is allowed;
# Distribution has no webhooks of this kind: xfail).
#
# The receiver (Python's http.server) checks every request's Standard Webhooks signature with the secret given
# to `berth webhook create --secret-stdin` exactly as the README's snippet does, and writes what it got to a
# file; the case waits for the push's `io.berth.image.push` CloudEvent carrying an `ECR Image Action` PUSH of the
# copied manifest's digest and tag, then reads the delivery log with `berth webhook deliveries`.
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init
# shellcheck source=scripts/registry-lib.sh
source "${E2E_ROOT}/../../scripts/registry-lib.sh"

[[ -n "${BERTH_BIN:-}" && -x "${BERTH_BIN}" ]] || e2e_fail "needs berth: BERTH_BIN (the berth binary) not set or not executable: '${BERTH_BIN:-}'"
command -v skopeo >/dev/null || e2e_fail "skopeo not found"
fixture="${E2E_FIXTURE:-$(cd "${E2E_ROOT}/../.." && pwd)/../shared/testdata/fixtures/oci-scanner-fixture}"
[[ -f "${fixture}/index.json" ]] || e2e_fail "fixture layout not found at ${fixture}"

e2e_step "a receiver that verifies signatures"
secret="whsec-$(e2e_rand)$(e2e_rand)$(e2e_rand)"
port="$(registry_free_port)"
got="${E2E_TMP}/received.jsonl"
: >"$got"
cat >"${E2E_TMP}/receiver.py" <<'PY'
import base64, hashlib, hmac, json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

secret, port, out = sys.argv[1].encode(), int(sys.argv[2]), sys.argv[3]

def verify(headers, body):
    msg_id, ts = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(ts)) > 300:
        return False
    mac = hmac.new(secret, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split())

class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        ok = verify(self.headers, body)
        with open(out, "a") as f:
            f.write(json.dumps({"valid": ok, "event": json.loads(body)}) + "\n")
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", port), Hook).serve_forever()
PY
python3 "${E2E_TMP}/receiver.py" "$secret" "$port" "$got" &
receiver_pid=$!
e2e_defer "kill ${receiver_pid}"

e2e_step "a berth that may send to loopback"
REGISTRY_TMPDIR="$E2E_TMP" BERTH_WEBHOOKS_ALLOW_PRIVATE=true registry_start berth WH
e2e_defer "registry_stop WH"
registry="${WH_ADDR}"
export BERTH_ENDPOINT="http://${registry}" BERTH_ACCESS_KEY_ID="$WH_ACCESS_KEY_ID" BERTH_SECRET_ACCESS_KEY="$WH_SECRET_ACCESS_KEY"

e2e_step "berth webhook create"
created="$(printf '%s\n' "$secret" | "$BERTH_BIN" webhook create --url "http://127.0.0.1:${port}/hook" \
    --events image.push,repository.create --repository 'e2e/*' --secret-stdin)"
echo "$created"
e2e_expect_contains "$created" "webhook 1 created" "berth webhook create"
e2e_expect_contains "$("$BERTH_BIN" webhook list)" "ENABLED" "berth webhook list"

e2e_step "skopeo copy"
repo="e2e/hooks-$(e2e_rand)"
skopeo copy --preserve-digests --dest-tls-verify=false --dest-creds "admin:${WH_PASSWORD}" \
    "oci:${fixture}:scanner-fixture:1" "docker://${registry}/${repo}:1"
digest="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "${fixture}/index.json")"

e2e_step "the signed push event arrives"
for _ in $(seq 1 100); do
    grep -q '"io.berth.image.push"' "$got" && break
    sleep 0.2
done
python3 - "$got" "$repo" "$digest" <<'PY'
import json, sys
got, repo, digest = sys.argv[1], sys.argv[2], sys.argv[3]
lines = [json.loads(l) for l in open(got) if l.strip()]
assert lines, "nothing received"
assert all(l["valid"] for l in lines), f"a delivery with a bad signature: {lines}"
pushes = [l["event"] for l in lines if l["event"]["type"] == "io.berth.image.push"]
assert len(pushes) == 1, f"one push event expected: {lines}"
e = pushes[0]
assert e["specversion"] == "1.0" and e["subject"] == repo, e
d = e["data"]
assert d["detail-type"] == "ECR Image Action" and d["source"] == "aws.ecr", d
assert d["detail"]["action-type"] == "PUSH" and d["detail"]["image-digest"] == digest, d
assert d["detail"]["image-tag"] == "1" and d["detail"]["repository-name"] == repo, d
print("received:", json.dumps(e["data"]["detail"]))
PY

e2e_step "berth webhook deliveries"
deliveries="$("$BERTH_BIN" webhook deliveries 1)"
echo "$deliveries"
e2e_expect_contains "$deliveries" "image.push" "the delivery log"
e2e_expect_contains "$deliveries" "204" "the receiver's status in the delivery log"
