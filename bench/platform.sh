# Shared by the bench/*.sh scripts (sourced): the platform each side of a benchmark ran on.
# muft's side reports itself (MUFT_PLATFORM_REPORT=1 makes muft::platform::start() print
# "muft platform: openblas_core=... set_by=..."); the Python reference is given the same
# OPENBLAS_CORETYPE that muft ran with, so a re-exec on a machine whose OpenBLAS falls back to old
# kernels speeds up both sides alike and the ratios stay fair.
export MUFT_PLATFORM_REPORT=1

# platform_line FILE: the last "muft platform:" line in FILE (muft's stderr), or "".
platform_line() { grep '^muft platform:' "$1" | tail -n 1 || true; }

# platform_field LINE KEY: the value of KEY=... in a platform line.
platform_field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# python_coretype LINE: the OPENBLAS_CORETYPE the Python reference should run with: the core muft
# ran on when muft or the user set it, else empty (both sides keep OpenBLAS's own choice).
python_coretype() {
  case "$(platform_field "$1" set_by)" in
    muft | user) platform_field "$1" openblas_core ;;
    *) echo "" ;;
  esac
}

# run_python CORETYPE CMD...: runs CMD with OPENBLAS_CORETYPE=CORETYPE when CORETYPE is set.
run_python() {
  local core="$1"
  shift
  if [[ -n "$core" ]]; then OPENBLAS_CORETYPE="$core" "$@"; else "$@"; fi
}

# print_platform LINE PYTHON_CORE PYTHON_CORETYPE: the lines every benchmark prints about where
# each side ran (PYTHON_CORETYPE: what python_coretype gave, "" when none).
print_platform() {
  local initial
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(nproc) cores"
  if [[ -z "$1" ]]; then
    echo "muft:   no platform line (built without muft::platform?)"
  else
    initial=$(platform_field "$1" initial_core)
    echo "muft:   OpenBLAS core $(platform_field "$1" openblas_core)" \
      "(set_by=$(platform_field "$1" set_by)${initial:+, initial_core=$initial})"
  fi
  echo "python: OpenBLAS core $2${3:+ (run with OPENBLAS_CORETYPE=$3, as muft)}"
}
