#!/bin/bash
# tests/check.sh - run every test tier and add up their results.
#
# How it works: each tier is a command whose output ends with the line
# "N passed, N failed" (tap.h, the fuzz replay, tests/vm/run.sh all do). Its
# output is shown as it runs; the counts of its last such line are added up.
# A tier that exits non-zero without saying how many failed counts as one
# failure, so a crash can never pass for success. The last line printed is the
# total, in the same form, and the exit status is non-zero if anything failed.
set -uo pipefail

total_pass=0 total_fail=0 total_skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

tier() {
    local name=$1
    shift
    echo "=== $name"
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    if [[ -z $line ]]; then
        echo "=== $name: no result line (exit $rc): counted as 1 failure"
        total_fail=$((total_fail + 1))
        return
    fi
    local p f s
    p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
    s=$(sed -nE 's/.*, ([0-9]+) skipped.*/\1/p' <<<"$line")
    if [[ $rc -ne 0 && $f -eq 0 ]]; then
        echo "=== $name: exit $rc with no failure counted: counted as 1 failure"
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    total_skip=$((total_skip + ${s:-0}))
}

while [[ $# -gt 0 ]]; do
    name=$1
    shift
    cmd=()
    while [[ $# -gt 0 && $1 != ";;" ]]; do
        cmd+=("$1")
        shift
    done
    [[ $# -gt 0 ]] && shift
    tier "$name" "${cmd[@]}"
done

if [[ $total_skip -gt 0 ]]; then
    echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
    echo "$total_pass passed, $total_fail failed"
fi
[[ $total_fail -eq 0 ]]
