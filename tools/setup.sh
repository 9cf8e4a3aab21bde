#!/usr/bin/env bash
# Installs what lowbit needs on a Debian machine and is missing: Deno (from npm),
# Jupyter (nbconvert, nbclient, jupyter-client), Mesa's lavapipe (a CPU Vulkan
# adapter for machines without a GPU) and Chromium (for the notebook browser
# test); then the npm packages (among them node-llama-cpp, pinned in deno.json,
# whose prebuilt CPU binary the GGUF test loads) and the Deno Jupyter kernel.
# Safe to run twice.
set -uo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

need=()
command -v jupyter-nbconvert >/dev/null 2>&1 || need+=(jupyter-nbconvert)
/usr/bin/python3 -c 'import nbclient' >/dev/null 2>&1 || need+=(python3-nbclient)
/usr/bin/python3 -c 'import jupyter_client' >/dev/null 2>&1 || need+=(jupyter-client)
ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: apt-get install ${need[*]}"
  $SUDO apt-get update -qq >/dev/null || { echo "setup: apt-get update failed" >&2; exit 1; }
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null || { echo "setup: apt-get install failed" >&2; exit 1; }
fi
if ! command -v deno >/dev/null 2>&1; then
  echo "setup: npm i -g deno"
  $SUDO npm i -g deno >/dev/null || { echo "setup: npm i -g deno failed" >&2; exit 1; }
fi
deno install >/dev/null 2>&1 || { echo "setup: deno install failed" >&2; deno install; exit 1; }
deno jupyter --install --force >/dev/null 2>&1 || { echo "setup: deno jupyter --install --force failed" >&2; deno jupyter --install --force; exit 1; }
echo "setup: ready ($(deno --version | head -1))"
