"""Where Temporal payloads too large for history are kept: the database or an S3 bucket.

Temporal refuses payloads over 2 MB and every byte of history is replayed, so a node that
fetches a 20 MB body must not put it into history. The payload codec (core/codec.py)
stores any payload over PAYLOAD_INLINE_MAX_BYTES here and leaves a reference in its place;
workers and the API read it back when they decode. Blobs are keyed by the SHA-256 of their
bytes, so storing one twice is harmless and a blob is checked against its key when read.
"""

import hashlib
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import Settings
from core.db import create_engine
from core.models import PayloadBlob, utcnow

_TABLE = sa.inspect(PayloadBlob).local_table


class PayloadMissing(Exception):
    """A referenced payload is not in the store (deleted, or another store configured)."""


class PayloadStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...


def blob_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checked(key: str, data: bytes) -> bytes:
    if blob_key(data) != key:
        raise PayloadMissing(f"payload {key} does not match its key: corrupted in the store")
    return data


class DatabasePayloadStore:
    """Blobs in the `payload_blobs` table of Flowpilot's own database (the default)."""

    def __init__(self, settings: Settings, engine: AsyncEngine | None = None) -> None:
        """With `engine`, the process's own (closed by its owner); without, one opened on
        first use (the codec's: most processes never store a large payload)."""
        self._settings = settings
        self._engine = engine
        self._owns_engine = engine is None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(self._settings)
        return self._engine

    async def put(self, key: str, data: bytes) -> None:
        if await self._exists(key):
            return
        row = {"key": key, "data": data, "size": len(data), "created_at": utcnow()}
        try:
            async with self.engine.begin() as connection:
                await connection.execute(sa.insert(_TABLE).values(**row))
        except IntegrityError:
            if not await self._exists(key):  # not stored meanwhile by another process
                raise

    async def _exists(self, key: str) -> bool:
        async with self.engine.connect() as connection:
            found = await connection.execute(sa.select(_TABLE.c.key).where(_TABLE.c.key == key))
            return found.first() is not None

    async def get(self, key: str) -> bytes:
        async with self.engine.connect() as connection:
            row = await connection.execute(sa.select(_TABLE.c.data).where(_TABLE.c.key == key))
            found = row.first()
        if found is None:
            raise PayloadMissing(f"payload {key} is not in the database")
        return checked(key, bytes(found.data))

    async def aclose(self) -> None:
        if self._owns_engine and self._engine is not None:
            await self._engine.dispose()


class S3PayloadStore:
    """Blobs as objects `PAYLOAD_S3_PREFIX<key>` in PAYLOAD_S3_BUCKET."""

    def __init__(self, settings: Settings) -> None:
        from aiobotocore.session import get_session
        from botocore.config import Config

        assert settings.payload_s3_bucket is not None
        self._bucket = settings.payload_s3_bucket
        self._prefix = settings.payload_s3_prefix
        secret = settings.payload_s3_secret_access_key
        self._client_options = {
            "endpoint_url": settings.payload_s3_endpoint_url,
            "region_name": settings.payload_s3_region,
            "aws_access_key_id": settings.payload_s3_access_key_id,
            "aws_secret_access_key": secret.get_secret_value() if secret else None,
            "config": Config(
                s3={"addressing_style": "path" if settings.payload_s3_path_style else "auto"},
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        }
        self._session = get_session()

    async def put(self, key: str, data: bytes) -> None:
        async with self._session.create_client("s3", **self._client_options) as s3:
            await s3.put_object(Bucket=self._bucket, Key=self._prefix + key, Body=data)

    async def get(self, key: str) -> bytes:
        async with self._session.create_client("s3", **self._client_options) as s3:
            try:
                answer = await s3.get_object(Bucket=self._bucket, Key=self._prefix + key)
            except s3.exceptions.NoSuchKey:
                raise PayloadMissing(
                    f"payload {key} is not in s3://{self._bucket}/{self._prefix}"
                ) from None
            async with answer["Body"] as body:
                return checked(key, await body.read())

    async def aclose(self) -> None:
        pass


def payload_store(
    settings: Settings, engine: AsyncEngine | None = None
) -> DatabasePayloadStore | S3PayloadStore:
    """The configured store; a database store uses `engine` when given."""
    if settings.payload_store == "s3":
        return S3PayloadStore(settings)
    return DatabasePayloadStore(settings, engine)
