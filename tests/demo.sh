#!/bin/sh
# demo.sh runs pakon's main job on the capture the project ships: real
# Suricata analyses tests/data/demo.pcap with pakon's own Suricata config,
# pakon imports the EVE output into a fresh database, and pakon-show lists
# what each device talked to. Everything happens in a temporary directory.
set -eu
cd "$(dirname "$0")/.."
pcap=${1:-tests/data/demo.pcap}
work=$(mktemp -d "${TMPDIR:-/tmp}/pakon-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The shipped config sends EVE to pakon's unix socket; for a capture,
# write it to a file instead.
suricata -c files/etc/pakon/suricata.yaml -k none -r "$pcap" -l "$work" \
	--set outputs.0.eve-log.filetype=regular --set outputs.0.eve-log.filename=eve.json \
	>"$work/suricata.log" 2>&1 || { cat "$work/suricata.log"; exit 1; }

cat >"$work/pakon" <<CONF
config monitor 'monitor'
	option live_db '$work/pakon.db'
	option state_dir '$work'
config archive 'archive'
	option path '$work/archive.db'
CONF

bin/pakon import -c "$work/pakon" "$work/eve.json"
echo
bin/pakon-show -c "$work/pakon" --no-filter
