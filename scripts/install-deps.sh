#!/usr/bin/env bash
# Installs what berth's tests use, if missing: the real clients (docker's CLI is assumed), CNCF Distribution
# to compare with, PostgreSQL for the metadata backend tests, s3s-fs and the Python packages (oras, boto3, the aws
# CLI, moto). Idempotent and quick when everything is present. Needs root (or sudo) for apt-get when something is
# missing. Called by scripts/test.sh (the README's test command) and so by .ci/run.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_ROOT_USER_ACTION=ignore

log() { printf '[install-deps] %s\n' "$*"; }

# Debian packages the tests use (the clients incl. AWS CLI v2, Distribution to validate against,
# busybox-static for FROM-scratch images, PostgreSQL for the metadata backend, headless Chromium and its
# WebDriver for the console's browser tests, Prometheus for `promtool check metrics` and a scraping server).
apt_packages=(skopeo podman buildah busybox-static docker-registry umoci curl ca-certificates awscli debootstrap
    postgresql chromium chromium-driver haproxy prometheus)
# PyPI packages: the oras SDK (e2e), boto3 and awscli (ECR-compatible API tests), selenium (console tests),
# moto's S3 API server (the S3 blob backend's tests start `moto_server`), PyNaCl and cryptography (the signing
# e2e case reads and makes cosign-format keys and signatures with them where skopeo cannot).
pip_packages=(oras boto3 awscli selenium 'moto[server]' pynacl cryptography)

install_apt() {
    local missing=() p
    for p in "${apt_packages[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        log "apt: all ${#apt_packages[@]} packages present"
        return 0
    fi
    log "apt: installing ${missing[*]}"
    # Keep package scripts from starting services (docker-registry ships one).
    local own_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    local rc=0
    {
        ${SUDO} apt-get update -qq &&
            ${SUDO} apt-get install -y -qq -o Dpkg::Options::=--force-confdef \
                -o Dpkg::Options::=--force-confold "${missing[@]}"
    } >/tmp/berth-ci-apt.log 2>&1 || rc=$?
    ((own_policy)) && rm -f /usr/sbin/policy-rc.d
    if ((rc != 0)); then
        tail -n 30 /tmp/berth-ci-apt.log
        log "apt-get failed (exit $rc)"
        return "$rc"
    fi
}

install_pip() {
    if python3 -c 'import oras.client, boto3, selenium, moto.server, nacl.secret, cryptography' 2>/dev/null && command -v aws >/dev/null &&
        command -v moto_server >/dev/null; then
        log "pip: ${pip_packages[*]} present"
        return 0
    fi
    log "pip: installing ${pip_packages[*]}"
    python3 -m pip install -q "${pip_packages[@]}"
}

# s3s-fs, the second S3 implementation the S3 backend's tests run against: a Rust build of a few minutes, once.
# A failed build does not stop the other installs; the test that needs s3s-fs then fails saying what to install.
install_s3s_fs() {
    if command -v s3s-fs >/dev/null || [[ -x "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs" ]]; then
        log "cargo: s3s-fs present"
        return 0
    fi
    log "cargo: installing s3s-fs 0.14.1 (a few minutes, once)"
    if ! cargo install --quiet --locked s3s-fs --version 0.14.1 --features binary >/tmp/berth-ci-s3s-fs.log 2>&1; then
        tail -n 20 /tmp/berth-ci-s3s-fs.log
        log "warning: installing s3s-fs failed; the S3 backend's s3s-fs test will fail"
    fi
}

check_docker() {
    if ! docker info >/dev/null 2>&1; then
        log "warning: the Docker daemon does not answer; the docker e2e cases will fail"
    fi
}

SUDO=""
if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null; then SUDO="sudo"; fi

install_apt
install_pip
install_s3s_fs
check_docker
