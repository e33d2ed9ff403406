#!/usr/bin/env bash
# Makes a Docker daemon available on a fresh machine: installs docker.io when missing, starts
# dockerd in the background when it is not answering, and waits for its socket. Idempotent:
# on a machine where `docker info` already works it does nothing.
set -euo pipefail

log_file="${TANTO_DOCKERD_LOG:-/var/log/tanto-dockerd.log}"
wait_secs="${TANTO_DOCKERD_WAIT:-60}"

if docker info >/dev/null 2>&1; then
    echo "docker.sh: the daemon already answers"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "docker.sh: docker is not installed; run this script as root to install docker.io" >&2
        exit 1
    fi
    echo "docker.sh: installing docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q docker.io
fi

# A daemon that is starting (or started by the package's service) gets a chance first.
pid_file=/var/run/docker.pid
if ! { [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "docker.sh: dockerd is not running; run this script as root to start it" >&2
        exit 1
    fi
    echo "docker.sh: starting dockerd (log: $log_file)"
    mkdir -p "$(dirname "$log_file")"
    nohup dockerd >>"$log_file" 2>&1 &
fi

for _ in $(seq 1 "$wait_secs"); do
    if docker info >/dev/null 2>&1; then
        echo "docker.sh: the daemon answers ($(docker version --format '{{.Server.Version}}, API {{.Server.APIVersion}}'))"
        exit 0
    fi
    sleep 1
done

echo "docker.sh: dockerd did not answer within ${wait_secs}s; its log ends with:" >&2
tail -n 30 "$log_file" >&2 || true
exit 1
