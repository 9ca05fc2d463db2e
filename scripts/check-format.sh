#!/usr/bin/env bash
# Fails when a C++ file differs from what .clang-format would make of it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format not installed, skipped"; exit 0; }
files=$(git ls-files '*.cpp' '*.h' '*.hpp' 2>/dev/null || true)
[[ -n "$files" ]] || exit 0
bad=0
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f"; bad=1
  fi
done
[[ $bad -eq 0 ]] && echo "check-format: all $(echo "$files" | wc -w) files formatted"
exit $bad
