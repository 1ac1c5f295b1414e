"""Temporal payload codecs: encryption, and keeping large payloads out of history.

With PAYLOAD_ENCRYPTION on, every payload the API and the worker hand to Temporal (run
inputs, definitions, node inputs and outputs, results, failure messages) is sealed with
AES-256-GCM before it leaves the process, so Temporal's database and its Web UI hold only
ciphertext. The key is derived from the instance secret (FLOWPILOT_SECRET_KEY) with HKDF
under a label of its own, so it never equals the credential or token keys.

An encrypted payload is `nonce (12 bytes) | ciphertext+tag` of the whole original Payload
(metadata included), with metadata `encoding: binary/encrypted` and `encryption-key-id`, a
fingerprint of the key that sealed it. The key id is authenticated with the ciphertext; it
lets a later key rotation pick the right key for old histories.

Decoding leaves payloads that are not encrypted as they are: histories written before
encryption was turned on still read. Nothing here logs a payload.
"""

import dataclasses
import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from core.config import Settings
from core.payload_store import PayloadStore, blob_key, payload_store
from core.secrets import instance_secret

ENCODING = b"binary/encrypted"
KEY_ID_KEY = "encryption-key-id"
STORED_ENCODING = b"flowpilot/stored"
STORED_KEY = "flowpilot-stored-key"
STORED_SIZE = "flowpilot-stored-size"
NONCE_BYTES = 12
TAG_BYTES = 16
_HKDF_INFO = b"flowpilot/temporal-payloads/v1"


class PayloadDecryptError(Exception):
    """An encrypted payload this process cannot open: other key, tampered or truncated."""


def payload_key(secret: bytes) -> bytes:
    """The 32-byte payload key derived from the instance secret (HKDF-SHA256, own label)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret)


def key_id(key: bytes) -> str:
    """A short public fingerprint of `key`: names the key without revealing it."""
    return hashlib.sha256(b"flowpilot/payload-key-id\x00" + key).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over whole payloads; plaintext payloads pass through `decode`."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a payload key is 32 bytes (AES-256)")
        self.key_id = key_id(key)
        # One key today; rotation adds older keys here, found by the id a payload names.
        self._keys = {self.key_id: AESGCM(key)}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.key_id].encrypt(
            nonce, payload.SerializeToString(), _aad(self.key_id)
        )
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_KEY: self.key_id.encode()},
            data=nonce + sealed,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        named = payload.metadata.get(KEY_ID_KEY, b"").decode(errors="replace")
        aead = self._keys.get(named)
        if aead is None:
            raise PayloadDecryptError(
                f"payload was encrypted with key {named or '(none)'}, this process holds key "
                f"{self.key_id}: FLOWPILOT_SECRET_KEY differs from the one that encrypted it"
            )
        data = payload.data
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadDecryptError("encrypted payload is truncated")
        try:
            plaintext = aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], _aad(named))
        except InvalidTag:
            raise PayloadDecryptError(
                f"encrypted payload does not open with key {named}: tampered ciphertext"
            ) from None
        try:
            return Payload.FromString(plaintext)
        except DecodeError:
            raise PayloadDecryptError("decrypted payload is not a Temporal payload") from None


def _aad(named_key: str) -> bytes:
    # The key id is authenticated too: relabelling a payload makes it fail, not misdecode.
    return b"flowpilot/temporal-payload:" + named_key.encode()


class LargePayloadCodec(PayloadCodec):
    """Keeps payloads over `inline_max_bytes` out of Temporal's history (the claim-check
    pattern): the payload goes to the payload store, history gets a reference
    (`encoding: flowpilot/stored`, the blob's key and size) that decoding resolves."""

    def __init__(self, store: PayloadStore, inline_max_bytes: int) -> None:
        self.store = store
        self.inline_max_bytes = inline_max_bytes

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [await self._stored(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [await self._resolved(payload) for payload in payloads]

    async def _stored(self, payload: Payload) -> Payload:
        if payload.ByteSize() <= self.inline_max_bytes:
            return payload
        data = payload.SerializeToString()
        key = blob_key(data)
        await self.store.put(key, data)
        return Payload(
            metadata={
                "encoding": STORED_ENCODING,
                STORED_KEY: key.encode(),
                STORED_SIZE: str(len(data)).encode(),
            }
        )

    async def _resolved(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != STORED_ENCODING:
            return payload
        key = payload.metadata[STORED_KEY].decode()
        return Payload.FromString(await self.store.get(key))


class ChainedCodec(PayloadCodec):
    """Codecs applied in order on the way out and in reverse order on the way in."""

    def __init__(self, codecs: Sequence[PayloadCodec]) -> None:
        self.codecs = list(codecs)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        encoded = list(payloads)
        for codec in self.codecs:
            encoded = await codec.encode(encoded)
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = list(payloads)
        for codec in reversed(self.codecs):
            decoded = await codec.decode(decoded)
        return decoded


def codec_for(settings: Settings) -> EncryptionCodec:
    return EncryptionCodec(payload_key(instance_secret(settings)))


def payload_codec(settings: Settings) -> PayloadCodec:
    """Encryption (when on), then large payloads to the store: the store holds ciphertext
    when payloads are encrypted."""
    large = LargePayloadCodec(payload_store(settings), settings.payload_inline_max_bytes)
    if not settings.payload_encryption:
        return large
    return ChainedCodec([codec_for(settings), large])


def data_converter(settings: Settings) -> DataConverter:
    """Flowpilot's converter: pydantic JSON, large payloads kept out of history, everything
    sealed by encryption when PAYLOAD_ENCRYPTION is on.

    Encrypted, failure messages and stack traces move into the (encrypted) payload as well,
    since node errors can quote what a service answered.
    """
    converter = dataclasses.replace(pydantic_data_converter, payload_codec=payload_codec(settings))
    if not settings.payload_encryption:
        return converter
    return dataclasses.replace(
        converter, failure_converter_class=DefaultFailureConverterWithEncodedAttributes
    )
