#!/usr/bin/env bash
# Install the project's node tools (package.json / package-lock.json) into node_modules/:
# anvil (local Ethereum node for the chain tests and the demo), solc-js (contracts/compile.mjs),
# circom2 and snarkjs. Idempotent: does nothing when node_modules already matches the lock file.
# Install scripts are not run (--ignore-scripts): anvil's binary comes in its npm platform package.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm not found; install Node.js >= 20 with npm (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
stamp=node_modules/.package-lock.json
if [ -f "$stamp" ] && [ -x node_modules/.bin/anvil ] && [ -z "$(find package.json package-lock.json -newer "$stamp" 2>/dev/null)" ] \
   && node_modules/.bin/anvil --version >/dev/null 2>&1; then
  exit 0
fi
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
node_modules/.bin/anvil --version >/dev/null
