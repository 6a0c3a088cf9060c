#!/bin/sh
# The image's install steps, also run as a plain script in a fresh venv by the tests
# (tests/deploy/test_image.py), so they are checked on machines where no image can be built.
#   install.sh VENV_DIR SOURCE_DIR
set -eu
venv=$1
src=$2
python3 -m venv "$venv"
"$venv/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet --upgrade pip
# server: the hub on its embedded store. postgres and clickhouse: the drivers a scale-out
# needs (STACKLENS_METADATA_URL=postgresql+psycopg://..., STACKLENS_STORE_URL=clickhouse://...),
# about 30 MB, so one image runs single node or as a replica. Not chdb: embedded ClickHouse is
# ~0.5 GB and a server deployment talks to a ClickHouse server instead.
"$venv/bin/pip" install --no-cache-dir --disable-pip-version-check --quiet "$src[server,postgres,clickhouse]"
# Byte-compile once at build time; the runtime user cannot write into /opt.
"$venv/bin/python" -m compileall -q "$venv/lib" >/dev/null 2>&1 || true
"$venv/bin/stacklens" --help >/dev/null
"$venv/bin/python" -c "import psycopg, clickhouse_connect" >/dev/null
