"""Where the store is: ``--store PATH`` (SQLite), ``--store postgresql://…``, or the default
file in the user's data directory. No SQLAlchemy here, so a bad location is refused before
anything heavy loads.

Credentials never travel in the location: they would land in shell history, ``ps`` output
and findings' ``invocation``. libpq finds them itself (PGPASSWORD, ~/.pgpass or PGPASSFILE,
PGSERVICE / pg_service.conf, peer or certificate authentication), so a URL that carries a
password is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from scanner.history.errors import HistoryError
from scanner.userdirs import data_dir

STORE_ENV = "CII_SCAN_STORE"
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


@dataclass(frozen=True)
class StoreLocation:
    """A store's SQLAlchemy URL and how to name it to the user."""

    url: str
    display: str
    dialect: str  # "sqlite" | "postgresql"

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a server."""
        return Path(self.display) if self.dialect == "sqlite" else None

    @property
    def conninfo(self) -> str:
        """The server as a libpq connection URI (what psycopg connects to directly)."""
        return self.url.replace("postgresql+psycopg://", "postgresql://", 1)


def default_path() -> Path:
    """$XDG_DATA_HOME/cii-scan/history.sqlite (~/.local/share when unset): per user, as the
    XDG base directory specification puts application data."""
    return data_dir() / "history.sqlite"


def parse_location(value: str | None) -> StoreLocation:
    """The location ``value`` names (None: the default file); HistoryError when it is not
    one, or when it carries a password."""
    if value is None or value == "":
        return _sqlite(default_path())
    scheme = value.split(":", 1)[0].lower() if "://" in value else ""
    if scheme in _POSTGRES_SCHEMES:
        return _postgresql(value)
    if scheme in ("sqlite", "sqlite+pysqlite"):
        path = value.split("://", 1)[1]
        if not path.startswith("/"):
            raise HistoryError(f"--store {value}", "give an SQLite store as a file path")
        return _sqlite(Path(path[1:] if path.startswith("//") else path))
    if scheme:
        raise HistoryError(f"--store {_redacted(value)}",
                           f"unsupported store scheme {scheme!r} (a file path, or "
                           "postgresql://host/db)")
    return _sqlite(Path(value))


def _sqlite(path: Path) -> StoreLocation:
    absolute = path.expanduser().absolute()
    return StoreLocation(url=f"sqlite+pysqlite:///{absolute}", display=str(absolute),
                         dialect="sqlite")


def _postgresql(value: str) -> StoreLocation:
    parts = urlsplit(value)
    where = f"--store {_redacted(value)}"
    if parts.password is not None or any(key.lower() == "password"
                                         for key, _ in parse_qsl(parts.query)):
        raise HistoryError(where, "a password in the store URL is refused (it would show in "
                           "shell history and process lists); give it to libpq instead: "
                           "~/.pgpass, PGPASSFILE, PGPASSWORD or a service in "
                           "pg_service.conf (PGSERVICE)")
    try:
        parts.port  # noqa: B018 (raises for a port that is not a number)
    except ValueError:
        raise HistoryError(where, "the port is not a number") from None
    database = parts.path.lstrip("/")
    if not database and not any(k in ("service", "dbname") for k, _ in parse_qsl(parts.query)):
        raise HistoryError(where, "name the database: postgresql://host/DBNAME")
    if "/" in database:
        raise HistoryError(where, f"{database!r} is not a database name")
    netloc = parts.netloc
    url = f"postgresql+psycopg://{netloc}/{database}" + (f"?{parts.query}" if parts.query
                                                           else "")
    return StoreLocation(url=url, display=value, dialect="postgresql")


def _redacted(value: str) -> str:
    """``value`` with any password replaced, so even the refusal does not print it."""
    try:
        parts = urlsplit(value)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
        query = "&".join(f"{key}=***" if key.lower() == "password" else f"{key}={item}"
                         for key, item in parse_qsl(parts.query, keep_blank_values=True))
        return parts._replace(netloc=netloc, query=query).geturl()
    except ValueError:
        return "(a store URL)"
