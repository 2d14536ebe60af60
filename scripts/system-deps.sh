#!/usr/bin/env bash
# Install the Debian packages Guichet needs, only when missing. `make install` runs it with
# "runtime"; `make test-deps` adds the browser for the browser tests.
set -euo pipefail
want=(libmagic1 gettext)
if [ "${1:-runtime}" = "test" ]; then want+=(chromium); fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
  command -v sudo >/dev/null || { echo "Please install: ${missing[*]} (apt-get install ${missing[*]})" >&2; exit 1; }
else
  SUDO=
fi
echo "Installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
