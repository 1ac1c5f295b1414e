"""The s3.* nodes: the S3 client against moto's S3 server on loopback, and real runs.

The connector tests drive `connectors.s3` (the production client, with the production
outbound guard) against `tests/support/fake_s3.py`; the run tests go through the API, the
real worker and the Temporal dev server, with the `s3` credential stored through the API.
"""

import base64
import ipaddress
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from connectors.netguard import Allowlist
from connectors.s3 import RefusedAddress, S3Account, S3Client, guarded_socket_factory
from tests.support.api import sign_up
from tests.support.fake_s3 import FakeS3
from tests.support.local_http import LocalHttpServer
from tests.support.processes import free_port
from tests.test_api_runs import create, finished, start
from tests.test_connector_slack import failure
from workflows.catalog import NODE_TYPES
from workflows.nodes.s3 import S3PresignUrlParams, S3PutObjectParams

LOOPBACK = ["127.0.0.1"]


@pytest.fixture
def s3() -> S3Client:
    return S3Client(allowed_hosts=LOOPBACK, timeout=30)


def account_for(fake_s3: FakeS3, **overrides: Any) -> S3Account:
    return S3Account.from_credential(fake_s3.credential(**overrides))


# --- objects ------------------------------------------------------------------------------


async def test_an_object_round_trips_with_its_content_type_and_metadata(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    account = account_for(fake_s3)
    bucket = fake_s3.create_bucket()
    data = bytes(range(256)) * 40

    stored = await s3.put_object(
        account,
        bucket,
        "reports/2026/q4.bin",
        data,
        content_type="application/x-report",
        metadata={"source": "flowpilot", "run-id": "r-42"},
    )
    fetched = await s3.get_object(account, bucket, "reports/2026/q4.bin", max_bytes=1 << 20)

    assert fetched.body == data
    assert fetched.content_type == "application/x-report"
    assert fetched.metadata == {"source": "flowpilot", "run-id": "r-42"}
    assert (stored.size, fetched.size) == (len(data), len(data))
    assert stored.etag == fetched.etag and stored.etag and '"' not in stored.etag
    assert fetched.last_modified is not None
    modified = datetime.fromisoformat(fetched.last_modified)
    assert abs(modified - datetime.now(UTC)) < timedelta(minutes=5)


async def test_virtual_hosted_addressing_falls_back_to_paths_on_an_ip_endpoint(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    """`auto` and `virtual` cannot put a bucket in front of an IP address: botocore uses
    the path, and the same object is read back."""
    bucket = fake_s3.create_bucket()
    await s3.put_object(account_for(fake_s3), bucket, "k", b"v", content_type="text/plain")

    for style in ("auto", "virtual"):
        fetched = await s3.get_object(
            account_for(fake_s3, addressing_style=style), bucket, "k", max_bytes=10
        )
        assert fetched.body == b"v"


async def test_an_object_larger_than_max_bytes_is_refused_before_it_is_read(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    account = account_for(fake_s3)
    bucket = fake_s3.create_bucket()
    await s3.put_object(account, bucket, "big", b"x" * 5000, content_type="text/plain")

    error = await failure(s3.get_object(account, bucket, "big", max_bytes=4999))
    fits = await s3.get_object(account, bucket, "big", max_bytes=5000)

    assert (error.kind, error.retryable) == ("S3ObjectTooLarge", False)
    assert "4999" in error.message and "big" in error.message
    assert fits.size == 5000


async def test_a_missing_bucket_or_key_fails_at_once_naming_it(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    account = account_for(fake_s3)
    bucket = fake_s3.create_bucket()
    missing_bucket = f"missing-{uuid.uuid4().hex[:8]}"

    no_key = await failure(s3.get_object(account, bucket, "nope.txt", max_bytes=10))
    no_bucket = await failure(s3.get_object(account, missing_bucket, "a.txt", max_bytes=10))
    no_bucket_list = await failure(s3.list_objects(account, missing_bucket))
    no_bucket_put = await failure(
        s3.put_object(account, missing_bucket, "a.txt", b"x", content_type="text/plain")
    )

    assert (no_key.kind, no_key.retryable) == ("S3NoSuchKey", False)
    assert "'nope.txt'" in no_key.message and bucket in no_key.message
    for error in (no_bucket, no_bucket_list, no_bucket_put):
        assert (error.kind, error.retryable) == ("S3NoSuchBucket", False), error.message
        assert missing_bucket in error.message


# --- listing ------------------------------------------------------------------------------


async def test_a_listing_of_2500_keys_follows_continuation_tokens_across_pages(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    account = account_for(fake_s3)
    bucket = fake_s3.create_bucket()
    keys = [f"logs/{index:05d}.txt" for index in range(2500)]
    fake_s3.seed(bucket, keys)
    fake_s3.seed(bucket, ["other/readme.txt"])

    listing = await s3.list_objects(account, bucket, prefix="logs/", max_keys=10_000)

    assert [item["key"] for item in listing.objects] == keys
    assert listing.truncated is False
    assert listing.requests == 3
    pages = fake_s3.list_requests(bucket)
    assert len(pages) == 3
    assert sum("continuation-token" in page.query for page in pages) == 2
    assert {item["size"] for item in listing.objects} == {1}


async def test_a_listing_stops_at_max_keys_and_says_it_is_truncated(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    account = account_for(fake_s3)
    bucket = fake_s3.create_bucket()
    keys = [f"k{index:04d}" for index in range(1200)]
    fake_s3.seed(bucket, keys)

    first = await s3.list_objects(account, bucket, max_keys=1100)
    exact = await s3.list_objects(account, bucket, max_keys=1200)

    assert [item["key"] for item in first.objects] == keys[:1100]
    assert (first.truncated, first.requests) == (True, 2)
    assert len(exact.objects) == 1200
    assert exact.truncated is False


async def test_a_delimiter_groups_keys_into_prefixes(s3: S3Client, fake_s3: FakeS3) -> None:
    account = account_for(fake_s3)
    bucket = fake_s3.create_bucket()
    fake_s3.seed(bucket, ["a/1", "a/2", "b/1", "top.txt"])

    listing = await s3.list_objects(account, bucket, delimiter="/")

    assert [item["key"] for item in listing.objects] == ["top.txt"]
    assert listing.prefixes == ["a/", "b/"]


# --- presigned URLs -----------------------------------------------------------------------


async def test_a_presigned_get_url_fetched_with_plain_http_returns_the_object(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    account = account_for(fake_s3)
    bucket = fake_s3.create_bucket()
    await s3.put_object(account, bucket, "share/me.txt", b"hello there", content_type="text/plain")

    url, expires_at = await s3.presign_url(
        account, bucket, "share/me.txt", method="get", expires_seconds=600
    )
    async with httpx.AsyncClient() as plain:
        answer = await plain.get(url)

    assert answer.status_code == 200, answer.text
    assert answer.content == b"hello there"
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=600" in url
    assert timedelta(seconds=590) < expires_at - datetime.now(UTC) <= timedelta(seconds=600)


async def test_a_presigned_put_url_lets_plain_http_upload_the_object(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    account = account_for(fake_s3)
    bucket = fake_s3.create_bucket()

    url, _ = await s3.presign_url(account, bucket, "inbox/up.txt", method="put", expires_seconds=60)
    async with httpx.AsyncClient() as plain:
        answer = await plain.put(url, content=b"uploaded")
    fetched = await s3.get_object(account, bucket, "inbox/up.txt", max_bytes=100)

    assert answer.status_code == 200, answer.text
    assert fetched.body == b"uploaded"


async def test_presigning_refuses_temporary_credentials_and_more_than_seven_days(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    temporary = account_for(fake_s3, session_token="FwoGZXIvYXdzEXAMPLETOKEN")

    with_token = await failure(
        s3.presign_url(temporary, "b", "k", method="get", expires_seconds=60)
    )
    too_long = await failure(
        s3.presign_url(account_for(fake_s3), "b", "k", method="get", expires_seconds=8 * 86400)
    )

    assert (with_token.kind, with_token.retryable) == ("S3InvalidRequest", False)
    assert "FwoGZXIvYXdzEXAMPLETOKEN" not in with_token.message
    assert "7 days" in too_long.message
    with pytest.raises(ValidationError, match="at most 7d"):
        S3PresignUrlParams.model_validate({"bucket": "b", "key": "k", "expires": "8d"})
    assert S3PresignUrlParams.model_validate({"bucket": "b", "key": "k", "expires": "7d"})


# --- credentials --------------------------------------------------------------------------


async def test_wrong_credentials_fail_with_a_clear_non_retryable_error(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    bucket = fake_s3.create_bucket()
    with fake_s3.authenticating():
        good = await s3.list_objects(account_for(fake_s3), bucket)
        unknown_key = await failure(
            s3.list_objects(account_for(fake_s3, access_key_id="AKIAUNKNOWN000000000"), bucket)
        )
        wrong_secret = await failure(
            s3.put_object(
                account_for(fake_s3, secret_access_key="not-the-secret"),
                bucket,
                "k",
                b"x",
                content_type="text/plain",
            )
        )

    assert good.objects == []
    for error, code in (
        (unknown_key, "InvalidAccessKeyId"),
        (wrong_secret, "SignatureDoesNotMatch"),
    ):
        assert (error.kind, error.retryable) == ("S3AuthError", False), error.message
        assert code in error.message
        assert "refused the credential" in error.message
    assert "not-the-secret" not in wrong_secret.message


async def test_a_server_that_cannot_be_reached_is_a_retryable_network_error(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    account = account_for(fake_s3, endpoint_url=f"http://127.0.0.1:{free_port()}")

    error = await failure(s3.list_objects(account, "bucket"))

    assert (error.kind, error.retryable) == ("S3NetworkError", True)


# --- the outbound guard -------------------------------------------------------------------


async def test_an_endpoint_on_an_internal_address_is_refused_before_any_request(
    s3: S3Client, fake_s3: FakeS3
) -> None:
    metadata_service = account_for(fake_s3, endpoint_url="http://169.254.169.254")
    not_allowlisted = S3Client(allowed_hosts=(), timeout=5)

    refused = await failure(s3.list_objects(metadata_service, "bucket"))
    loopback = await failure(not_allowlisted.list_objects(account_for(fake_s3), "bucket"))
    allowed = await s3.list_buckets(account_for(fake_s3))

    assert (refused.kind, refused.retryable) == ("TargetRefused", False)
    assert "169.254.169.254" in refused.message and "link-local" in refused.message
    assert (loopback.kind, loopback.retryable) == ("TargetRefused", False)
    assert "loopback" in loopback.message
    assert isinstance(allowed, list)
    assert [request.path for request in fake_s3.requests] == ["/"]


async def test_a_redirect_to_an_address_outside_the_allowlist_is_never_connected(
    s3: S3Client, fake_s3: FakeS3, local_http: LocalHttpServer
) -> None:
    """The endpoint is allowed, but it redirects to 127.0.0.2, which is not: the socket
    factory refuses the connection itself (were it made, nothing listens there)."""
    elsewhere = f"http://127.0.0.2:{local_http.port}/bucket/key"
    local_http.route("/bucket/key", [(307, "", {"Location": elsewhere})])
    account = account_for(fake_s3, endpoint_url=local_http.base_url)

    error = await failure(s3.get_object(account, "bucket", "key", max_bytes=10))

    assert local_http.hits("/bucket/key") == 1
    assert (error.kind, error.retryable) == ("TargetRefused", False), error.message
    assert "127.0.0.2" in error.message


def test_the_socket_factory_opens_sockets_only_to_admitted_addresses() -> None:
    allowlist = Allowlist.parse(["127.0.0.1"])
    open_socket = guarded_socket_factory(allowlist, admitted=[ipaddress.ip_address("10.1.2.3")])

    def info(address: str) -> tuple[Any, ...]:
        return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 80))

    for allowed in ("127.0.0.1", "10.1.2.3", "8.8.8.8"):
        open_socket(info(allowed)).close()
    for refused in ("169.254.169.254", "127.0.0.2", "10.0.0.1", "192.168.1.1"):
        with pytest.raises(RefusedAddress, match=refused.replace(".", r"\.")):
            open_socket(info(refused))


# --- params -------------------------------------------------------------------------------


def test_put_params_store_text_json_and_base64_bytes_with_fitting_content_types() -> None:
    def put(**params: Any) -> S3PutObjectParams:
        return S3PutObjectParams.model_validate({"bucket": "b", "key": "k", **params})

    text, data, binary = (
        put(body="héllo"),
        put(body={"a": [1, 2]}),
        put(body=base64.b64encode(b"\x00\xff").decode(), encoding="base64"),
    )

    assert (text.data(), text.effective_content_type()) == (
        "héllo".encode(),
        "text/plain; charset=utf-8",
    )
    assert (data.data(), data.effective_content_type()) == (b'{"a":[1,2]}', "application/json")
    assert (binary.data(), binary.effective_content_type()) == (
        b"\x00\xff",
        "application/octet-stream",
    )
    assert put(body="x", content_type="text/csv").effective_content_type() == "text/csv"
    with pytest.raises(ValidationError, match="base64"):
        put(body="not base64!", encoding="base64")
    with pytest.raises(ValidationError, match="metadata"):
        put(body="x", metadata={"bad name": "v"})
    with pytest.raises(ValidationError, match="ASCII"):
        put(body="x", metadata={"name": "naïve"})


def test_the_catalog_offers_the_four_s3_node_types_with_the_s3_credential() -> None:
    for name in ("s3.put_object", "s3.get_object", "s3.list_objects", "s3.presign_url"):
        entry = NODE_TYPES[name]
        assert (entry.runs_in, entry.credential_kinds, entry.credential_required) == (
            "activity",
            ("s3",),
            True,
        )
    assert "as" in NODE_TYPES["s3.get_object"].params_schema()["properties"]


# --- through the API: credential checks and real runs --------------------------------------


async def store(
    api: httpx.AsyncClient, headers: dict[str, str], name: str, data: dict[str, Any]
) -> str:
    stored = await api.post(
        "/api/credentials", json={"name": name, "kind": "s3", "data": data}, headers=headers
    )
    assert stored.status_code == 201, stored.text
    return str(stored.json()["id"])


async def test_the_credential_test_lists_buckets_and_tells_good_keys_from_bad(
    api: httpx.AsyncClient, fake_s3: FakeS3
) -> None:
    headers = await sign_up(api)
    good = await store(api, headers, "good", fake_s3.credential())
    bad = await store(api, headers, "bad", fake_s3.credential(secret_access_key="wrong-secret"))
    internal = await store(
        api, headers, "internal", fake_s3.credential(endpoint_url="http://169.254.169.254")
    )

    with fake_s3.authenticating():
        results = {
            name: (await api.post(f"/api/credentials/{id_}/test", headers=headers)).json()
            for name, id_ in (("good", good), ("bad", bad), ("internal", internal))
        }

    assert (results["good"]["ok"], results["good"]["live"]) == (True, True), results
    assert "bucket(s) visible" in results["good"]["message"]
    assert (results["bad"]["ok"], results["bad"]["live"]) == (False, True), results
    assert "SignatureDoesNotMatch" in results["bad"]["message"]
    assert "wrong-secret" not in results["bad"]["message"]
    assert results["internal"]["ok"] is False
    assert "refused" in results["internal"]["message"]


def every_s3_node(bucket: str) -> dict[str, Any]:
    """Put a JSON document made by an earlier node, read it back, list, and presign it."""
    return {
        "name": "S3 archive",
        "inputs": {"bucket": {"type": "string"}, "day": {"type": "string"}},
        "nodes": [
            {
                "id": "report",
                "type": "transform",
                "params": {"value": {"day": "{{ inputs.day }}", "rows": [1, 2, 3]}},
            },
            {
                "id": "put",
                "type": "s3.put_object",
                "credential": "archive",
                "params": {
                    "bucket": "{{ inputs.bucket }}",
                    "key": "reports/{{ inputs.day }}.json",
                    "body": "{{ nodes.report.output }}",
                    "metadata": {"day": "{{ inputs.day }}"},
                },
                "needs": ["report"],
            },
            {
                "id": "get",
                "type": "s3.get_object",
                "credential": "archive",
                "params": {
                    "bucket": "{{ inputs.bucket }}",
                    "key": "{{ nodes.put.output.key }}",
                    "as": "json",
                },
                "needs": ["put"],
            },
            {
                "id": "list",
                "type": "s3.list_objects",
                "credential": "archive",
                "params": {"bucket": "{{ inputs.bucket }}", "prefix": "reports/"},
                "needs": ["put"],
            },
            {
                "id": "share",
                "type": "s3.presign_url",
                "credential": "archive",
                "params": {
                    "bucket": "{{ inputs.bucket }}",
                    "key": "{{ nodes.put.output.key }}",
                    "expires": "1h",
                },
                "needs": ["put"],
            },
        ],
        "output": {
            "stored": "{{ nodes.put.output }}",
            "read": "{{ nodes.get.output }}",
            "listed": "{{ nodes.list.output }}",
            "shared": "{{ nodes.share.output }}",
        },
    }


async def test_every_s3_node_works_in_a_real_run_with_a_stored_credential(
    live_api: httpx.AsyncClient, fake_s3: FakeS3
) -> None:
    headers = await sign_up(live_api)
    await store(live_api, headers, "archive", fake_s3.credential())
    bucket = fake_s3.create_bucket()
    workflow_id = await create(live_api, headers, every_s3_node(bucket))

    run = await finished(
        live_api,
        headers,
        await start(live_api, headers, workflow_id, bucket=bucket, day="2026-11-27"),
    )

    assert run["status"] == "succeeded", run
    output = run["output"]
    document = {"day": "2026-11-27", "rows": [1, 2, 3]}
    assert output["stored"]["key"] == "reports/2026-11-27.json"
    assert output["stored"]["size"] == len(b'{"day":"2026-11-27","rows":[1,2,3]}')
    assert output["read"]["body"] == document
    assert output["read"]["content_type"] == "application/json"
    assert output["read"]["metadata"] == {"day": "2026-11-27"}
    assert output["read"]["etag"] == output["stored"]["etag"]
    assert [item["key"] for item in output["listed"]["objects"]] == ["reports/2026-11-27.json"]
    assert output["listed"]["truncated"] is False
    async with httpx.AsyncClient() as plain:
        shared = await plain.get(output["shared"]["url"])
    assert shared.status_code == 200 and shared.json() == document
    expires_at = datetime.fromisoformat(output["shared"]["expires_at"])
    assert timedelta(minutes=58) < expires_at - datetime.now(UTC) <= timedelta(hours=1)


async def test_a_run_with_wrong_keys_fails_its_node_once_with_the_reason(
    live_api: httpx.AsyncClient, fake_s3: FakeS3
) -> None:
    headers = await sign_up(live_api)
    await store(
        live_api, headers, "archive", fake_s3.credential(access_key_id="AKIAWRONG0000000000")
    )
    bucket = fake_s3.create_bucket()
    definition = every_s3_node(bucket)
    definition["nodes"] = definition["nodes"][:2]
    definition["output"] = "{{ nodes.put.output }}"
    workflow_id = await create(live_api, headers, definition)

    with fake_s3.authenticating():
        run = await finished(
            live_api, headers, await start(live_api, headers, workflow_id, bucket=bucket, day="d")
        )

    assert run["status"] == "failed", run
    put = next(node for node in run["nodes"] if node["node_id"] == "put")
    assert put["status"] == "failed"
    assert put["attempts"] == 1, put
    assert "InvalidAccessKeyId" in put["error"] and "refused the credential" in put["error"]
