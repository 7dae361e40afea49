#!/usr/bin/env bash
# Builds tctl, Temporal's older CLI, into .temporal/tctl-1.18.0/tctl for the tctl tests
# (test/integration/tctl.test.ts), from its Go source: the module comes from the Go
# module proxy (`go mod download`) and is built with the local Go toolchain.
#
# Idempotent: does nothing when the binary exists. Without `go` on PATH it says so and exits 0, leaving
# no binary (the tctl tests then fail, naming this script).
set -euo pipefail

version=1.18.0
root="$(cd "$(dirname "$0")/.." && pwd)"
dest_dir="$root/.temporal/tctl-$version"
dest="$dest_dir/tctl"

if [ -x "$dest" ]; then
  echo "tctl $version is already built: $dest"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "tctl $version not built: \`go\` is not on PATH. Install Go (https://go.dev/dl/) and run" \
    "\`bash temporal-dev/build-tctl.sh\` again; the tctl tests fail until $dest exists."
  exit 0
fi

start=$(date +%s)
module="github.com/temporalio/tctl@v$version"
echo "Downloading $module through the Go module proxy ($(go env GOPROXY))"
# Outside any module, so the project's own files play no part; -json reports where the source landed.
src="$(cd / && GOFLAGS=-mod=mod go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [ -z "$src" ] || [ ! -d "$src/cmd/tctl" ]; then
  echo "go mod download $module did not report a source folder with cmd/tctl" >&2
  exit 1
fi

# The module cache is read-only: build in a writable copy, outside this repository so that Go does not
# stamp the build with this repository's version control state.
work="$(mktemp -d "${TMPDIR:-/tmp}/tctl-build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -R "$src/." "$work/"
chmod -R u+w "$work"

mkdir -p "$dest_dir"
echo "Building tctl $version with $(go version | cut -d' ' -f3) into $dest"
(cd "$work" && go build -buildvcs=false -o "$dest.tmp" ./cmd/tctl)
mv "$dest.tmp" "$dest"
echo "Built $("$dest" --version 2>/dev/null | head -n1 || echo "tctl $version") in $(($(date +%s) - start)) s: $dest"
