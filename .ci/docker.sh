#!/usr/bin/env bash
# Make the docker sandbox usable on a fresh Debian machine (as root); safe to run again.
#   1. apt-get install docker.io and debootstrap (if missing)
#   2. start dockerd in the background (if `docker info` fails) and wait until it answers
#   3. build the sandbox image offline from Debian packages (skipped if it exists)
# Needs the codexsd package importable (`pip install -e .`) for step 3.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "docker.sh: run as root (apt-get, dockerd, debootstrap)" >&2
    exit 1
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    echo "docker.sh: starting dockerd (log: /tmp/dockerd.log)" >&2
    nohup dockerd >/tmp/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && break
        sleep 1
    done
    if ! docker info >/dev/null 2>&1; then
        echo "docker.sh: dockerd did not come up; last log lines:" >&2
        tail -n 30 /tmp/dockerd.log >&2 || true
        exit 1
    fi
fi

IMAGE=$(python3 -c 'from codexsd.sandbox.settings import IMAGE; print(IMAGE)')
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "docker.sh: image $IMAGE exists" >&2
else
    python3 -m codexsd.cli -v sandbox build-image --image "$IMAGE"
fi
python3 -m codexsd.cli sandbox check --sandbox docker
