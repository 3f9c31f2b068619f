#!/usr/bin/env bash
# Install what the tests need on a fresh Debian machine, then run lint, types and every test.
# Used verbatim by README's quickstart and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each file in tests/packages.d lists the Debian packages one part of the suite needs.
mapfile -t debian_packages < <(cat tests/packages.d/*.txt | sed -e 's/#.*//' -e '/^[[:space:]]*$/d')
missing=()
for package in "${debian_packages[@]}"; do
  dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "run-all: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Python test needs go into a virtual environment of this checkout (.venv), never into
# the system Python (PEP 668: Debian's and Ubuntu's refuse a bare pip install). Whatever
# python3 is first on PATH makes it; the suite then runs with the venv first on PATH.
venv="$PWD/.venv"
if ! "$venv/bin/python3" -c 'import sys' 2>/dev/null; then
  echo "run-all: creating the virtual environment $venv"
  python3 -m venv --clear "$venv"
fi
"$venv/bin/python3" -m pip install -q --disable-pip-version-check -e '.[test]'
export PATH="$venv/bin:$PATH"

echo "run-all: ruff"
python3 -m ruff check scanner tests bench
echo "run-all: mypy"
python3 -m mypy scanner
# The oracle states (tests/oracle) each run in namespaces of their own and are many: they
# run apart, one worker per CPU (pytest-xdist). The rest runs first, in one process, so
# the scans of this machine it makes see no oracle state's daemons.
run_pytest() {
  local status=0
  python3 -m pytest "$@" || status=$?
  if [ "$status" -eq 5 ]; then
    echo "run-all: pytest collected no tests ($*)" >&2
    return 1
  fi
  return "$status"
}
echo "run-all: pytest (all but the oracle states)"
main_status=0
run_pytest --ignore=tests/oracle "$@" || main_status=$?
echo "run-all: pytest (oracle states, one worker per CPU)"
oracle_status=0
run_pytest -n auto tests/oracle "$@" || oracle_status=$?
[ "$main_status" -eq 0 ] && [ "$oracle_status" -eq 0 ]
