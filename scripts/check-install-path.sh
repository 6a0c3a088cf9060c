#!/usr/bin/env bash
# The user's install path, proved on every CI run: what `make run` installs (the `server`
# extra only, in a fresh venv) must start the hub, and the base install (no extras) must give
# a working SDK. A dependency that only arrives through a dev-only package fails here.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "install path: fresh venv with .[server] only"
"$PYTHON" -m venv "$work/server-venv"
"$work/server-venv/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
"$work/server-venv/bin/pip" install --quiet --disable-pip-version-check ".[server]"
port=$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$work/server-venv/bin/stacklens" serve --data-dir "$work/data" --host 127.0.0.1 --port "$port" \
  >"$work/serve.log" 2>&1 &
server_pid=$!
ready=""
for _ in $(seq 1 120); do
  if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
  if "$PYTHON" - "$port" <<'PY' 2>/dev/null; then ready=1; break; fi
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/ready", timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
  sleep 0.5
done
if [ -z "$ready" ]; then
  echo "install path: FAILED, the hub installed with .[server] only never became ready:" >&2
  cat "$work/serve.log" >&2
  exit 1
fi
grep -q "admin key" "$work/serve.log" || { echo "install path: no first admin key printed" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "install path: hub ready on 127.0.0.1:$port with the server extra only"

key=$(grep -A1 "First admin key" "$work/serve.log" | tail -n1 | tr -d ' ')
echo "install path: fresh venv with the base package only (the SDK), sending to that hub"
"$PYTHON" -m venv "$work/base-venv"
"$work/base-venv/bin/pip" install --quiet --disable-pip-version-check .
# The command line on the base install: `send` works, a hub command says which extra.
"$work/base-venv/bin/stacklens" send --help >/dev/null
"$work/base-venv/bin/stacklens" --help >/dev/null
set +e
needs=$("$work/base-venv/bin/stacklens" serve 2>&1)
status=$?
set -e
if [ "$status" -ne 2 ] || [ "$(printf '%s\n' "$needs" | wc -l)" -ne 1 ] \
   || ! printf '%s' "$needs" | grep -q "pip install 'stacklens\[server\]'"; then
  echo "install path: FAILED, 'stacklens serve' on the base install said (exit $status):" >&2
  printf '%s\n' "$needs" >&2
  exit 1
fi
echo "install path: base install: send --help works; serve says: $needs"
"$work/base-venv/bin/python" - "$port" "$key" <<'PY'
import json, sys, time, urllib.request
import stacklens.sdk as sdk

port, key = sys.argv[1], sys.argv[2]
url = f"http://127.0.0.1:{port}"
with sdk.Client(stack_name="ci-base", url=url, api_key=key) as client:
    client.session_start("ci-session")
    client.flush(timeout=10)
request = urllib.request.Request(
    f"{url}/api/v1/events?stack=ci-base", headers={"Authorization": f"Bearer {key}"}
)
for _ in range(100):
    with urllib.request.urlopen(request, timeout=5) as answer:
        body = json.load(answer)
    if body.get("events"):
        print("install path: an event sent by the base-install SDK is queryable on the hub")
        break
    time.sleep(0.2)
else:
    sys.exit(f"install path: FAILED, the SDK's event never became queryable: {body}")
PY
