"""Credential encryption at rest: AES-256-GCM under a key derived from the instance secret.

A stored blob is `version (1 byte) | nonce (12 bytes) | ciphertext+tag`. The associated data
binds a blob to its row (`owner_id:credential_id`), so a blob copied to another credential,
or to another owner, does not decrypt. Nothing here logs or echoes a plaintext.
"""

import json
import os
import uuid
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.config import Settings
from core.secrets import derive_key, instance_secret

VERSION = 1
NONCE_BYTES = 12
_HEADER = bytes([VERSION])


class CredentialDecryptError(Exception):
    """A blob that cannot be opened: other key, other row, tampered or unknown format."""


def associated_data(owner_id: uuid.UUID, credential_id: uuid.UUID) -> str:
    """What a credential's ciphertext is bound to; the API and the worker both use this."""
    return f"{owner_id}:{credential_id}"


class CredentialCipher:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("a credential key is 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    def encrypt(self, data: dict[str, Any], associated: str) -> bytes:
        plaintext = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext, _aad(associated))
        return _HEADER + nonce + sealed

    def decrypt(self, blob: bytes, associated: str) -> dict[str, Any]:
        blob = bytes(blob)
        if len(blob) < 1 + NONCE_BYTES + 16:
            raise CredentialDecryptError("credential ciphertext is truncated")
        if blob[0] != VERSION:
            raise CredentialDecryptError(f"unknown credential ciphertext version {blob[0]}")
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            plaintext = self._aead.decrypt(nonce, sealed, _aad(associated))
        except InvalidTag:
            raise CredentialDecryptError(
                "credential cannot be decrypted: wrong key, moved or tampered ciphertext"
            ) from None
        try:
            data = json.loads(plaintext)
        except ValueError:
            raise CredentialDecryptError("credential plaintext is not JSON") from None
        if not isinstance(data, dict):
            raise CredentialDecryptError("credential plaintext is not an object")
        return data


def _aad(associated: str) -> bytes:
    # The version byte is authenticated too, so it cannot be swapped to change the format.
    return _HEADER + b"flowpilot/credential:" + associated.encode()


def cipher_for(settings: Settings) -> CredentialCipher:
    return CredentialCipher(derive_key(instance_secret(settings), "credentials"))
