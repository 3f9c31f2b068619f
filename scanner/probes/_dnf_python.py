"""Asking dnf's own Python module, with the first interpreter of the host that has it.

RHEL 8 keeps dnf's module for /usr/libexec/platform-python, later releases for
/usr/bin/python3. Each interpreter is started once: the program imports dnf itself and
exits with :data:`NO_DNF`, before it prints anything, when it cannot, and then the next
interpreter is tried. Asking ``python -c 'import dnf'`` first started each one twice,
and an interpreter's start is a tenth of a second.
"""

from __future__ import annotations

from scanner.probes._common import quote

NO_DNF = 86
PYTHONS = ("/usr/libexec/platform-python", "/usr/bin/python3")


def guarded(program: str) -> str:
    """``program`` preceded by its import of dnf, which exits with NO_DNF if it fails."""
    return "\n".join(["import sys", "try:", "    import dnf", "except Exception:",
                      f"    sys.exit({NO_DNF})", program])


def first_python(command: str, pythons: tuple[str, ...] = PYTHONS) -> str:
    """sh running ``command`` (which names the interpreter as ``"$py"``) with each of
    ``pythons`` in turn until one has dnf; ``asked`` is then non-empty."""
    return (f"asked=; for py in {' '.join(quote(p) for p in pythons)}; do "
            "if [ -z \"$asked\" ] && [ -x \"$py\" ]; then " + command + "; "
            f"[ \"$?\" -eq {NO_DNF} ] || asked=1; fi; done")
