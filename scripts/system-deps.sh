#!/usr/bin/env bash
# Install the Debian packages Guichet needs, only those missing. `make install` runs it with
# "runtime"; `make install-dev` (and so `make test`) with "test", which adds the browser.
set -euo pipefail
want=(libmagic1 gettext)
# Paper mail: OCR (Tesseract, French + English), PDF pages to images (poppler), letters (WeasyPrint
# needs Pango; DejaVu is the letters' font).
want+=(tesseract-ocr tesseract-ocr-fra tesseract-ocr-eng poppler-utils libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
# Debian's python3 needs python3-venv for `python3 -m venv` (ensurepip); other Pythons have it.
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import ensurepip, venv" >/dev/null 2>&1; then
  want+=("$(basename "$PYTHON")-venv")
fi
if [ "${1:-runtime}" = "test" ]; then want+=(chromium dovecot-imapd); fi
# Live chat across two web processes is tested through a Redis channel layer.
if [ "${1:-runtime}" = "test" ]; then want+=(redis-server); fi
if ! command -v dpkg-query >/dev/null; then
  echo "Not a Debian system: make sure these are installed: ${want[*]}" >&2
  exit 0
fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "Guichet needs these Debian packages: ${missing[*]}" >&2
    echo "Install them as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  SUDO=sudo
else
  SUDO=
fi
echo "Installing Debian packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
