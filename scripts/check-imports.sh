#!/usr/bin/env bash
# The layout rule anyone can check: no internal/ package (test harnesses
# testenv, integration and e2e excepted) depends on workflows/, activities/ or
# starter/. Prints the offenders and fails if there are any.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
status=0
for pkg in $(go list ./internal/... | grep -Ev "^$mod/internal/(testenv|integration|e2e)(/|$)"); do
  bad=$(go list -deps "$pkg" | grep -E "^$mod/(workflows|activities|starter)(/|$)" || true)
  if [ -n "$bad" ]; then
    echo "$pkg depends on:" >&2
    echo "$bad" | sed 's/^/  /' >&2
    status=1
  fi
done
exit $status
