"""Scrubbing the secrets an activity used from what it returns and raises (the end-to-end
proof is tests/test_secret_canaries.py)."""

from datetime import timedelta
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from activities.secret_redaction import SecretRedaction, remember_secrets
from core.credential_kinds import KINDS, secret_values
from core.redaction import REDACTED, redact
from tests.test_api_credentials import CANARY, EXAMPLES
from workflows.contract import NodeResult


def test_every_occurrence_is_replaced_in_nested_data_and_keys() -> None:
    data = {"a": ["x tok3n x", {"tok3n": "tok3ntok3n"}], "n": 3, "none": None}

    assert redact(data, ["tok3n"]) == {
        "a": [f"x {REDACTED} x", {REDACTED: REDACTED * 2}],
        "n": 3,
        "none": None,
    }


def test_a_longer_secret_is_replaced_before_one_it_contains() -> None:
    assert redact("Bearer abcd1234", ["abcd1234", "Bearer abcd1234"]) == REDACTED


def test_very_short_values_are_left_alone() -> None:
    assert redact("a b c", ["b", ""]) == "a b c"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_names_its_secret_and_nothing_else(kind: str) -> None:
    secrets = secret_values(kind, EXAMPLES[kind])

    assert any(CANARY in secret for secret in secrets)
    public = {"ana", "smtp.example.com", "ana@example.com", "X-Api-Key", "AKIA1", "gpt-4o"}
    assert not public & set(secrets)


class Activity(ActivityInboundInterceptor):
    """The next link of the chain: an activity that used `secret` and then did `outcome`."""

    def __init__(self, secret: str, outcome: Any) -> None:
        self.secret = secret
        self.outcome = outcome

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        remember_secrets([self.secret])
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


async def run_through_interceptor(secret: str, outcome: Any) -> Any:
    chain = SecretRedaction().intercept_activity(Activity(secret, outcome))
    return await chain.execute_activity(None)  # type: ignore[arg-type]


async def test_an_output_quoting_the_secret_comes_back_scrubbed() -> None:
    result = await run_through_interceptor(
        "s3cr3t-value", NodeResult(output={"body": "token=s3cr3t-value"}, attempt=2)
    )

    assert result == NodeResult(output={"body": f"token={REDACTED}"}, attempt=2)


async def test_a_failure_keeps_its_type_retry_and_delay_but_not_the_secret() -> None:
    cause = ValueError("inner s3cr3t-value")
    error = ApplicationError(
        "401: bad key s3cr3t-value",
        {"echo": "s3cr3t-value"},
        type="Unauthorized",
        non_retryable=True,
        next_retry_delay=timedelta(seconds=3),
    )
    error.__cause__ = cause

    with pytest.raises(ApplicationError) as raised:
        await run_through_interceptor("s3cr3t-value", error)

    assert raised.value.message == f"401: bad key {REDACTED}"
    assert raised.value.details == ({"echo": REDACTED},)
    assert (raised.value.type, raised.value.non_retryable) == ("Unauthorized", True)
    assert raised.value.next_retry_delay == timedelta(seconds=3)
    assert raised.value.__cause__ is None, "the cause would carry the secret into history"


async def test_any_other_exception_becomes_a_retryable_failure_of_its_class() -> None:
    with pytest.raises(ApplicationError) as raised:
        await run_through_interceptor("s3cr3t-value", OSError("cannot reach s3cr3t-value"))

    assert raised.value.message == f"cannot reach {REDACTED}"
    assert (raised.value.type, raised.value.non_retryable) == ("OSError", False)


async def test_an_activity_that_used_no_secret_is_untouched() -> None:
    error = ValueError("plain")
    chain = SecretRedaction().intercept_activity(Activity("", error))

    with pytest.raises(ValueError) as raised:
        await chain.execute_activity(None)  # type: ignore[arg-type]

    assert raised.value is error
