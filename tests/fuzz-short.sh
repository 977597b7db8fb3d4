#!/bin/sh
# fuzz-short.sh runs every Fuzz target in the module for a few seconds each
# (FUZZTIME, default 5s): a smoke pass for CI. Long fuzzing: make fuzz-long.
set -eu
fuzztime=${FUZZTIME:-5s}
tags=${TAGS:-sqlite_omit_load_extension}
status=0
for pkg in $(go list -tags "$tags" ./...); do
	for target in $(go test -tags "$tags" -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "fuzz $pkg $target ($fuzztime)"
		if ! go test -tags "$tags" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$pkg" >/tmp/pakon-fuzz.log 2>&1; then
			cat /tmp/pakon-fuzz.log
			status=1
		fi
	done
done
exit $status
