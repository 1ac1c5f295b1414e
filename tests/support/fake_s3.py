"""Fixtures: moto's S3 server (`moto[server]`) on a free 127.0.0.1 port, in this process.

It is moto's standalone server (the WSGI app `moto_server` and `ThreadedMotoServer` run,
with moto's request handler) wrapped in a recorder, so a test can count the requests it
answered (the pages a listing read, or that nothing was sent at all).

Moto accepts any keys by default. `FakeS3.authenticating()` turns on its IAM simulation
for a block: then only `FakeS3.key_id`/`FakeS3.secret` (an IAM user allowed `s3:*`) are
accepted, an unknown key is answered `403 InvalidAccessKeyId` and a wrong secret
`403 SignatureDoesNotMatch`, as AWS does. Moto's state is process-wide: tests use buckets
of their own (`create_bucket()` names one).
"""

import contextlib
import json
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.authorization import enable_iam_authentication
from moto.s3.models import s3_backends
from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

REGION = "us-east-1"
ALLOW_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


@dataclass(frozen=True)
class S3Request:
    method: str
    path: str
    query: str


class FakeS3:
    def __init__(self) -> None:
        self.requests: list[S3Request] = []
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            "127.0.0.1", 0, self._recording(app), threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.key_id = ""
        self.secret = ""

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeS3":
        self._thread.start()
        user = f"flowpilot-{uuid.uuid4().hex[:8]}"
        iam = self._boto3("iam")
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(ALLOW_S3))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()

    def credential(self, **overrides: Any) -> dict[str, Any]:
        """The data of an `s3` credential for this server (path-style, like MinIO's)."""
        return {
            "access_key_id": self.key_id,
            "secret_access_key": self.secret,
            "region": REGION,
            "endpoint_url": self.endpoint_url,
            "addressing_style": "path",
            **overrides,
        }

    def create_bucket(self, prefix: str = "bucket") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self._boto3("s3").create_bucket(Bucket=name)
        return name

    def seed(self, bucket: str, keys: Iterable[str], body: bytes = b"x") -> None:
        """Store objects straight into moto's backend: thousands in well under a second."""
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        for key in keys:
            backend.put_object(bucket, key, body)

    def list_requests(self, bucket: str) -> list[S3Request]:
        """The ListObjectsV2 calls made on `bucket`."""
        return [
            request
            for request in self.requests
            if request.method == "GET"
            and request.path.rstrip("/") == f"/{bucket}"
            and "list-type=2" in request.query
        ]

    @contextlib.contextmanager
    def authenticating(self) -> Iterator[None]:
        """Check keys and signatures as AWS does, for the block."""
        with enable_iam_authentication():
            yield

    def _boto3(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )

    def _recording(self, app: Any) -> Any:
        def recorded(environ: dict[str, Any], start_response: Any) -> Any:
            self.requests.append(
                S3Request(
                    environ["REQUEST_METHOD"],
                    environ.get("PATH_INFO", ""),
                    environ.get("QUERY_STRING", ""),
                )
            )
            return app(environ, start_response)

        return recorded


@pytest.fixture(scope="session")
def fake_s3_server() -> Iterator[FakeS3]:
    server = FakeS3().start()
    yield server
    server.stop()


@pytest.fixture
def fake_s3(fake_s3_server: FakeS3) -> FakeS3:
    """The session's moto S3 server, its request record cleared."""
    fake_s3_server.requests.clear()
    return fake_s3_server
