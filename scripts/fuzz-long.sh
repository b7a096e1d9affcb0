#!/usr/bin/env bash
# Fuzz every target of the repository for a longer time than CI does.
#
#   scripts/fuzz-long.sh [DURATION] [REGEXP]
#
# DURATION is a go test -fuzztime value per target (default 5m; also taken from
# FUZZTIME). REGEXP, if given, keeps only the targets whose "package Target"
# matches it (e.g. 'fuzz FuzzE2M1' or 'pagedcache'). Targets are found as
# .ci/run finds them: every `func FuzzXxx` in every *_test.go. Each target runs
# in turn on all cores (go test uses GOMAXPROCS workers); the script goes on
# after a failure, prints a table of targets with executions per second, and
# exits 1 if any target failed. A failing input is saved by go test under the
# package's testdata/fuzz/<Target>/ directory: rerun it with
# go test -run=<Target>/<file> ./<package>.
set -uo pipefail
cd "$(dirname "$0")/.."
per=${1:-${FUZZTIME:-5m}}
filter=${2:-}
export GOFLAGS=${GOFLAGS:--buildvcs=false}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

failed=()
summary=()
for f in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	pkg=./$(dirname "${f#./}")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
		if [ -n "$filter" ] && ! grep -Eq -- "$filter" <<<"${pkg#./} $target"; then
			continue
		fi
		echo "=== fuzz $pkg $target for $per"
		start=$SECONDS
		if go test -run='^$' -fuzz="^${target}\$" -fuzztime="$per" "$pkg" >"$log" 2>&1; then
			status=ok
		else
			status=FAILED
			failed+=("$pkg $target")
			cat "$log"
		fi
		# The last progress line: "fuzz: elapsed: 30s, execs: 123456 (4100/sec), ..."
		last=$(grep '^fuzz: elapsed:' "$log" | tail -1)
		execs=$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' <<<"$last")
		secs=$(sed -n 's/^fuzz: elapsed: \([0-9hms]*\),.*/\1/p' <<<"$last")
		rate=$(awk -v e="${execs:-0}" -v s="$secs" 'BEGIN {
			t = 0; n = split(s, p, /[hms]/); m = s
			if (m ~ /h/) { t += p[1] * 3600; sub(/^[0-9]+h/, "", m) }
			if (m ~ /m/) { split(m, q, "m"); t += q[1] * 60; sub(/^[0-9]+m/, "", m) }
			sub(/s$/, "", m); t += m + 0
			if (t > 0) printf "%d", e / t; else printf "?" }')
		summary+=("$(printf '%-28s %-20s %-7s %6ss %12s execs %10s execs/s' "${pkg#./}" "$target" "$status" "$((SECONDS - start))" "${execs:-?}" "$rate")")
	done
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
	echo "FAILED: ${failed[*]}"
	exit 1
fi
echo "all ${#summary[@]} targets passed"
