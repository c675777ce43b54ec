#!/usr/bin/env bash
# System packages the tests drive for real: Debian's chromium (the console's browser tests, through
# playwright-core, which cannot download its own browser here) and PostgreSQL 15 (the fleet store's tests
# start a throwaway server). `npm test` runs this first (the `pretest` script); it installs only what is
# missing and does nothing when both are present.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql-15)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing system packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
elif command -v sudo >/dev/null 2>&1; then
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
  echo "missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
  exit 1
fi
