#!/usr/bin/env bash
# Builds FerretDB 1.24.2 from its Go module source into $1 (the output binary path).
#
# Why not `go install`: the module lacks build/version/version.txt, which FerretDB's own build generates;
# a `go install`ed binary panics at start. Why the sed: in 1.24.2 the SQLite backend's `_id` query expression
# (->'$._id') differs from its index expression (->"_id"), so `_id` lookups scan the whole table. Making them
# equal lets every `_id` lookup use the index (see README, "Local database").
#
# scripts/local-db.ts hashes this file: changing the recipe rebuilds the binary.
set -euo pipefail
out=${1:?usage: build.sh OUTPUT_BINARY}
version=v1.24.2
command -v go >/dev/null || { echo "Go is required to build the local database (or set MONGODB_URI)" >&2; exit 3; }

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
dir=$(go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "go mod download did not give a source directory for FerretDB $version" >&2; exit 1; }
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
echo "$version" > "$work/src/build/version/version.txt"

metadata="$work/src/internal/backends/sqlite/metadata/metadata.go"
# (Written to a new file rather than with `sed -i`, whose arguments differ between GNU and BSD sed, as on macOS.)
sed "s|IDColumn = DefaultColumn + \"->'\$._id'\"|IDColumn = DefaultColumn + \`->\"_id\"\`|" "$metadata" > "$metadata.fixed"
mv "$metadata.fixed" "$metadata"
grep -q 'IDColumn = DefaultColumn + `->"_id"`' "$metadata" \
  || { echo "the _id index fix did not apply to $metadata: the recipe needs updating" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
# Build beside the target under a name of our own, then rename: two builds at once cannot mix their output.
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -o "$out.tmp.$$" ./cmd/ferretdb)
mv "$out.tmp.$$" "$out"
echo "built $out"
