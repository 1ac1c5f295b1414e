"""The instance secret: from FLOWPILOT_SECRET_KEY, or generated once into the data dir."""

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from core.config import Settings


def instance_secret(settings: Settings) -> bytes:
    if settings.flowpilot_secret_key is not None:
        return settings.flowpilot_secret_key.get_secret_value().encode()
    return _generated_secret(settings.data_dir / "secret.key")


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose ("jwt", "credentials", …), so no key serves two jobs."""
    return hmac.new(secret, f"flowpilot/{purpose}".encode(), hashlib.sha256).digest()


def _generated_secret(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()
