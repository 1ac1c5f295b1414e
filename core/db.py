"""The async database engine and sessions (PostgreSQL via asyncpg, or SQLite via aiosqlite)."""

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from core.config import Settings

CONNECT_TIMEOUT_SECONDS = 10
"""How long opening a PostgreSQL connection may take (asyncpg's default is 60 s): a server
that does not answer fails the request (503) or the activity attempt instead of holding it."""
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
"""Connection exceptions, the server shutting down or starting up, too many connections."""


class DatabaseUnavailable(ConnectionError):
    """The database cannot be reached: connecting was refused, failed or timed out."""


def create_engine(settings: Settings) -> AsyncEngine:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        engine = create_async_engine(
            url,
            pool_pre_ping=True,  # a connection the server dropped is replaced, not used
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
        )
        event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
        return engine
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _connect_or_unavailable(
    dialect: Dialect, _record: Any, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Open a connection, or raise DatabaseUnavailable.

    SQLAlchemy wraps the errors of an open connection, but lets a failure to connect through
    as the driver raised it (ConnectionRefusedError, TimeoutError, asyncpg's own errors).
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except Exception as error:
        if isinstance(error, OSError | TimeoutError) or _unavailable_sqlstate(error):
            raise DatabaseUnavailable(f"cannot connect to the database: {error}") from error
        raise


def is_unreachable(error: BaseException) -> bool:
    """Whether `error` means the database could not be reached or dropped the connection
    (a passing condition: try again shortly), rather than that it refused a statement."""
    if isinstance(error, DatabaseUnavailable):
        return True
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or _unavailable_sqlstate(error.orig)
    return False


def _unavailable_sqlstate(error: BaseException | None) -> bool:
    sqlstate = str(getattr(error, "sqlstate", None) or "")
    return sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
