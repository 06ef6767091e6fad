#!/usr/bin/env bash
# docker: build a FROM-scratch busybox image, push it, remove it, pull it back and run it
# (logged in with `docker login` when the registry wants credentials).
# shellcheck source=tests/e2e/lib.sh
source "${E2E_ROOT:-$(dirname "$0")/..}/lib.sh"
e2e_case_init

command -v docker >/dev/null || e2e_fail "docker CLI not found"
[[ -x /bin/busybox ]] || e2e_fail "/bin/busybox missing (apt-get install busybox-static)"

e2e_docker_login

ref="${REGISTRY}/$(e2e_repo busybox):1"
e2e_defer "docker rmi -f '${ref}'"
e2e_busybox_round_trip "$ref" "hello from berth"
