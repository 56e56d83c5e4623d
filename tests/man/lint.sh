#!/bin/sh
# Lints man pages: groff must render each one with every warning enabled
# (-ww) and print nothing. Usage: lint.sh PAGE...
set -u
command -v groff >/dev/null || { echo "SKIP: groff is not installed"; exit 77; }
status=0
for page in "$@"; do
        out=$(LC_ALL=C.UTF-8 groff -man -ww -z "$page" 2>&1)
        if [ -n "$out" ]; then
                printf '%s:\n%s\n' "$page" "$out"
                status=1
        else
                echo "ok: $page"
        fi
done
exit $status
