#!/usr/bin/env bash
# Installs what Lifeboat's stack and tests need, if missing: the Temporal CLI
# (built from source with go install; later versions cannot be go-installed)
# moto server (Python package moto[server]), redis-server (Debian package,
# for the Redis tests) and prometheus with promtool (Debian package, for the
# alert rules' tests and the Prometheus integration test).
set -euo pipefail
TEMPORAL_VERSION=${TEMPORAL_VERSION:-v1.5.1}
bin=${TEMPORAL_BIN:-$(go env GOPATH)/bin/temporal}

if [ ! -x "$bin" ] && ! command -v temporal >/dev/null 2>&1; then
  echo "installing Temporal CLI $TEMPORAL_VERSION (a few minutes the first time)..." >&2
  GOBIN=$(dirname "$bin") go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_VERSION"
fi

# The emulator (scripts/emulator/) patches moto's internals: it is written
# against this version.
MOTO_VERSION=${MOTO_VERSION:-5.2.1}
if ! python3 -c 'import moto.server, werkzeug' >/dev/null 2>&1; then
  echo "installing moto server $MOTO_VERSION..." >&2
  python3 -m pip install --quiet "moto[server]==$MOTO_VERSION"
elif [ "$(python3 -c 'import moto; print(moto.__version__)')" != "$MOTO_VERSION" ]; then
  echo "warning: moto $(python3 -c 'import moto; print(moto.__version__)') is installed; the emulator is made for $MOTO_VERSION (pip install 'moto[server]==$MOTO_VERSION')" >&2
fi

if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server (Debian package)..." >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server >/dev/null
fi

if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  echo "installing prometheus and promtool (Debian package)..." >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  # Not its recommended node exporter: the tests start their own server.
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
