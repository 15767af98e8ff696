#!/usr/bin/env bash
# Builds release archives: packaging/dist.sh OUTDIR VERSION COMMIT DATE [GOOS/GOARCH ...]
# Each target becomes dirbridge-VERSION-GOOS-GOARCH.tar.gz (.zip for windows)
# holding the binary, conf/examples, LICENSE and INSTALL; OUTDIR/SHA256SUMS
# lists them all. `make dist` calls it for the four platforms admins use.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1 version=$2 commit=$3 date=$4
shift 4
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(linux/amd64 linux/arm64 windows/amd64 darwin/arm64)
GO=${GO:-go}
mkdir -p "$out"
out=$(cd "$out" && pwd)
ldflags="-s -w -X main.version=$version -X main.commit=$commit -X main.buildDate=$date"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
archives=()
for t in "${targets[@]}"; do
  goos=${t%/*} goarch=${t#*/}
  name="dirbridge-$version-$goos-$goarch"
  dir="$stage/$name"
  mkdir -p "$dir/conf/examples"
  exe=dirbridge
  [ "$goos" = windows ] && exe=dirbridge.exe
  CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch "$GO" build -trimpath -ldflags "$ldflags" -o "$dir/$exe" ./cmd/dirbridge
  cp conf/examples/*.toml "$dir/conf/examples/"
  cp LICENSE INSTALL "$dir/"
  if [ "$goos" = linux ]; then
    cp -R packaging/systemd "$dir/systemd"
  fi
  if [ "$goos" = windows ]; then
    (cd "$stage" && rm -f "$out/$name.zip" && zip -qr "$out/$name.zip" "$name")
    archives+=("$name.zip")
  else
    tar -C "$stage" -czf "$out/$name.tar.gz" "$name"
    archives+=("$name.tar.gz")
  fi
done
(cd "$out" && sha256sum "${archives[@]}" > SHA256SUMS)
echo "dist: ${archives[*]} and SHA256SUMS in $out"
