"""Alembic migrations from an empty database to head and back, on PostgreSQL and SQLite."""

import asyncio
import os
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import core.models  # noqa: F401  (the tables the migrations must produce)
from core.config import Settings
from core.migrate import downgrade, upgrade
from tests.support.api import POSTGRES_URL, reset_postgres

ROOT = Path(__file__).resolve().parent.parent


async def table_names(url: str) -> set[str]:
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def check_round_trip(url: str) -> None:
    settings = Settings(database_url=url)
    await asyncio.to_thread(upgrade, settings)
    assert await table_names(url) == set(SQLModel.metadata.tables)
    await asyncio.to_thread(downgrade, settings, "base")
    assert await table_names(url) == set()
    await asyncio.to_thread(upgrade, settings)
    assert await table_names(url) == set(SQLModel.metadata.tables)


async def test_postgres_migrates_from_empty_to_head_and_back() -> None:
    await reset_postgres(POSTGRES_URL)
    await check_round_trip(POSTGRES_URL)


async def test_sqlite_migrates_from_empty_to_head_and_back(tmp_path: Path) -> None:
    await check_round_trip(f"sqlite+aiosqlite:///{tmp_path / 'flowpilot.db'}")


async def test_models_and_migrations_agree(tmp_path: Path) -> None:
    """Autogenerate finds nothing to add: a model change without a migration fails here."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'flowpilot.db'}"
    await asyncio.to_thread(upgrade, Settings(database_url=url))
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
        )
    await engine.dispose()
    assert differences == []


async def test_api_replicas_starting_together_migrate_once() -> None:
    """Processes migrating one empty PostgreSQL database at once all succeed: one migrates
    while the others wait on the migration lock, then find the database at head."""
    await reset_postgres(POSTGRES_URL)
    env = {**os.environ, "DATABASE_URL": POSTGRES_URL}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli",
            "migrate",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [(await process.communicate())[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    assert await table_names(POSTGRES_URL) == set(SQLModel.metadata.tables)
