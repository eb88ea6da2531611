#!/usr/bin/env bash
# Installs cxm's build and test dependencies on Debian: the packages below
# and the npm packages of tests/package.json. Does nothing when all are there.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(build-essential pkg-config clang libclang-rt-14-dev libmicrohttpd-dev libcjson-dev
      libsqlite3-dev zlib1g-dev libsodium-dev libcmocka-dev sqlite3 wrk curl)
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
if [ -f tests/package.json ]; then
  if [ ! -d tests/node_modules ] || [ tests/package.json -nt tests/node_modules ] ||
     { [ -f tests/package-lock.json ] && [ tests/package-lock.json -nt tests/node_modules ]; }; then
    echo "deps: npm install (tests/)"
    (cd tests && npm install --no-audit --no-fund --loglevel=error) && touch tests/node_modules
  fi
fi
