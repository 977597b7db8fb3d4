#!/bin/sh
# setup-debian.sh installs what pakon's build and tests need on a Debian 12
# (bookworm) host: Suricata 7 from bookworm-backports, packet tools, and the
# helpers the integration tests drive. It is idempotent and needs root.
set -eu

if [ "$(id -u)" != 0 ]; then
	echo "setup-debian.sh: must run as root (apt-get install)" >&2
	exit 1
fi

src=/etc/apt/sources.list.d/debian.sources
bp=/etc/apt/sources.list.d/pakon-backports.sources
if [ ! -f "$bp" ]; then
	# Same mirror and keyring as the main suite, so the machine's apt set-up decides where packages come from.
	uri=$(awk '/^URIs:/ {print $2; exit}' "$src" 2>/dev/null || true)
	key=$(awk '/^Signed-By:/ {print $2; exit}' "$src" 2>/dev/null || true)
	: "${uri:=http://deb.debian.org/debian}"
	: "${key:=/usr/share/keyrings/debian-archive-keyring.gpg}"
	printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' "$uri" "$key" >"$bp"
	need_update=1
fi

pkgs="tcpdump iproute2 procps jq curl wget sqlite3 dnsmasq dbus udhcpc chromium busybox gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross gcc-mipsel-linux-gnu libc6-dev-mipsel-cross gcc-12-source qemu-user"
missing=""
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
suricata_ok=0
if command -v suricata >/dev/null 2>&1 && suricata -V 2>/dev/null | grep -q 'version [78]\.'; then
	suricata_ok=1
fi

if [ -n "$missing" ] || [ "$suricata_ok" = 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	if [ "${need_update:-0}" = 1 ] || [ ! -d /var/lib/apt/lists ] || [ -z "$(ls /var/lib/apt/lists/ 2>/dev/null | grep backports)" ]; then
		apt-get update -q
	fi
	if [ -n "$missing" ]; then
		apt-get install -y -q --no-install-recommends $missing
	fi
	if [ "$suricata_ok" = 0 ]; then
		apt-get install -y -q --no-install-recommends -t bookworm-backports suricata
	fi
fi
# The Debian package starts a Suricata service on install; the tests run their own.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	systemctl disable --now suricata >/dev/null 2>&1 || true
fi
suricata -V
