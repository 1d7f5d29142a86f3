#!/usr/bin/env bash
# Local stand-in for the Dockerfile's base image, for machines that reach Debian's mirror but no container registry
# (CI here): debootstrap bookworm (minbase + python3 python3-venv, i.e. Python 3.11 like python:3.11-slim-bookworm)
# -> `podman import` as docker.io/library/python:3.11-slim-bookworm, the name the Dockerfile's FROM resolves to.
# Cached: a machine builds it once (~2-4 min); rerun with --force to rebuild. Needs root, podman and debootstrap.
set -euo pipefail
IMAGE=docker.io/library/python:3.11-slim-bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ "${1:-}" != --force ] && podman image exists "$IMAGE"; then
    echo "container-base: $IMAGE already built"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$work/rootfs" "$MIRROR" \
    >"$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
ln -sf python3 "$work/rootfs/usr/bin/python"
# Trimmed like the slim images: no package caches, documentation, manuals or translations.
rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* \
    "$work"/rootfs/usr/share/{doc,man,info,locale}/*
tar -C "$work/rootfs" -c . | podman import --change 'CMD ["python3"]' - "$IMAGE" >/dev/null
echo "container-base: built $IMAGE ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
