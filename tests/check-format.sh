#!/usr/bin/env bash
# Fails when a C file is not formatted as the root .clang-format says
# (clang-format --dry-run --Werror), naming each file; run by ctest as
# style.clang_format. Fix with: clang-format -i FILE.
set -euo pipefail
cd "$1"
mapfile -t files < <(find common collector plugin schema tests -name '*.[ch]' -not -path '*/build*' | sort)
if [ ${#files[@]} -eq 0 ]; then
    echo "check-format: no C files found under $1" >&2
    exit 1
fi
bad=0
for f in "${files[@]}"; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (clang-format -i $f)"
        bad=$((bad + 1))
    fi
done
echo "$((${#files[@]} - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
