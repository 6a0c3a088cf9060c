#!/usr/bin/env bash
# `make image-test`: build the image (deploy/image/build.sh), run what it holds, ingest an
# event and query it back, then stop it. No container engine can start a container on
# these machines (setrlimit is refused), so the image's filesystem and entrypoint run under
# `buildah run --isolation chroot`: a faithful test of the image's contents, not of a
# runtime's isolation.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:-stacklens:test}
bash deploy/image/build.sh "$tag"
c=$(buildah from --quiet "$tag")
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  buildah rm "$c" >/dev/null 2>&1 || true
}
trap cleanup EXIT
[ "$(buildah run --isolation chroot "$c" -- id -u)" = "10001" ] || { echo "image runs as root" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key="slk_image_smoke_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
buildah run --isolation chroot --network host \
  --env STACKLENS_BOOTSTRAP_ADMIN_KEY="$key" --env STACKLENS_HOST=127.0.0.1 --env STACKLENS_PORT="$port" \
  "$c" -- stacklens serve >"${TMPDIR:-/tmp}/stacklens-image-smoke.log" 2>&1 &
pid=$!
python3 - "$port" "$key" <<'PY'
import json, sys, time, urllib.request

port, key = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
headers = {"X-API-Key": key, "Content-Type": "application/json"}


def call(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as answer:
        return answer.status, json.load(answer)


deadline = time.monotonic() + 60
while True:
    try:
        status, _ = call("/health")
        if status == 200:
            break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit("image smoke test: the hub in the image never became healthy")
    time.sleep(0.5)
event = {"timestamp": time.time_ns(), "stack_name": "image-smoke",
         "event_type": "heartbeat", "event_id": "image-smoke-1"}
status, answer = call("/v1/events", event)
assert status == 200 and answer["accepted"] == 1, answer
for _ in range(100):
    _, found = call("/api/v1/events?stack=image-smoke&since=1h")
    if [e["event_id"] for e in found["events"]] == ["image-smoke-1"]:
        print("image smoke test: healthy, event ingested and queried back")
        break
    time.sleep(0.2)
else:
    sys.exit(f"image smoke test: the event never became queryable: {found}")
PY
podman images --format 'image {{.Repository}}:{{.Tag}}: {{.Size}}' | grep "stacklens:" || true
