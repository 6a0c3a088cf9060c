#!/usr/bin/env bash
# Build the stacklens image here, where no registry can be pulled from: the base image is
# made from Debian packages (mmdebstrap: what the official debian:bookworm-slim is made of),
# then the Dockerfile is built with buildah. Elsewhere `docker build .` is all it takes.
#   deploy/image/build.sh [TAG]      (default stacklens:test)
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:-stacklens:test}
base=localhost/debian:bookworm-slim
if ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mmdebstrap --variant=minbase --quiet bookworm "$work/rootfs.tar"
  podman import --quiet "$work/rootfs.tar" "$base" >/dev/null
fi
# The host's CA bundle goes in for pip, in case this machine reaches PyPI through a
# TLS-inspecting proxy; it is mounted for the build only and not kept in the image.
ca=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}
extra=()
if [ -n "$ca" ] && [ -f "$ca" ]; then
  extra=(--volume "$ca:/run/host-ca.crt:ro" --build-arg PIP_CERT=/run/host-ca.crt)
fi
buildah bud --quiet --format docker --isolation chroot --network host --build-arg "BASE=$base" "${extra[@]}" \
  -t "$tag" . >/dev/null
buildah inspect --type image --format '{{.FromImage}}' "$tag" >/dev/null
echo "built $tag"
