#!/usr/bin/env bash
# Installs cxm's build and test dependencies on Debian: the packages below
# (chromium drives the dashboard's browser tests) and the npm packages of
# web/ (the dashboard's build) and tests/. Does nothing when all are there.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(build-essential pkg-config clang libclang-rt-14-dev libmicrohttpd-dev libcjson-dev
      libsqlite3-dev zlib1g-dev libsodium-dev libcmocka-dev sqlite3 wrk curl chromium
      libcurl4-openssl-dev libstemmer-dev libgsl-dev liblz4-dev)
# Node.js may come from elsewhere (nodesource ships npm inside nodejs):
# only ask Debian for it when the commands are missing.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# npm packages as locked, when missing or older than the lock file. `npm
# install`, not `npm ci`: npm 11's ci refuses tests/'s lock file over the
# optional per-platform packages of msgpackr-extract (an SDK dependency).
for d in web tests; do
  [ -f "$d/package.json" ] || continue
  if [ ! -d "$d/node_modules" ] || [ "$d/package.json" -nt "$d/node_modules" ] ||
     { [ -f "$d/package-lock.json" ] && [ "$d/package-lock.json" -nt "$d/node_modules" ]; }; then
    echo "deps: npm install ($d/)"
    (cd "$d" && npm install --no-audit --no-fund --loglevel=error) && touch "$d/node_modules"
  fi
done
