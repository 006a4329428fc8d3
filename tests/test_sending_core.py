"""The pure sending core, driven step by step with no IO.

The core's operations are generators that yield effects (an API request, a sleep, a locked sub-flow). These
tests play the transport themselves: they answer each request from a script, record sleeps instead of
sleeping, and use a hand-driven clock, so every decision (parameters, cache expiry, retries, rate limit, bulk
bookkeeping) is checked exactly. The real transports are exercised against moto and the local SES endpoint
elsewhere.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Generator
from typing import Any

import botocore.exceptions
import pytest

from sesflow.sending import (
    AccessDenied,
    AccountSendingPaused,
    AccountSuspended,
    Attachment,
    BulkProgress,
    BulkStatus,
    ConfigurationSetNotFound,
    ConfigurationSetRequired,
    ConfigurationSetSendingPaused,
    DailyQuotaExceeded,
    Destination,
    Email,
    InvalidParameter,
    LimitExceeded,
    ListManagement,
    ListUnsubscribe,
    MailFromDomainNotVerified,
    MessageRejected,
    RetryPolicy,
    SendingPaused,
    SendOutcomeUnknown,
    SesApiError,
    SesError,
    Template,
    TemplateNotFound,
    Throttled,
    TokenBucket,
    TransientFailure,
    ValidationError,
)
from sesflow.sending._core import Exclusive, SendingCore, Sleep
from sesflow.sending._requests import Request, error_from_exception

SENDER = "Shop <shop@example.com>"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Transport:
    """Plays the IO side: answers requests with ``answer``, records sleeps, runs locked sub-flows inline."""

    def __init__(self, answer: Callable[[Request], Any], clock: Clock | None = None) -> None:
        self.answer = answer
        self.clock = clock
        self.requests: list[Request] = []
        self.sleeps: list[float] = []
        self.locks: list[str] = []

    def run(self, flow: Generator[Any, Any, Any]) -> Any:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                effect = flow.throw(error) if error is not None else flow.send(value)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            try:
                if isinstance(effect, Request):
                    self.requests.append(effect)
                    value = self.answer(effect)
                elif isinstance(effect, Sleep):
                    self.sleeps.append(effect.seconds)
                    if self.clock is not None:
                        self.clock.now += effect.seconds
                else:
                    assert isinstance(effect, Exclusive)
                    self.locks.append(effect.key)
                    value = self.run(effect.flow)
            except Exception as exc:
                error = exc

    def operations(self) -> list[str]:
        return [r.operation for r in self.requests]


def client_error(
    code: str,
    message: str = "",
    *,
    status: int = 400,
    operation: str = "SendEmail",
    request_id: str = "req-1",
) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"RequestId": request_id, "HTTPStatusCode": status},
        },
        operation,
    )


def core(**overrides: Any) -> SendingCore:
    options: dict[str, Any] = {
        "api": "v2",
        "configuration_set": "default-set",
        "allow_no_configuration_set": False,
        "verify_configuration_set": True,
        "configuration_set_ttl": 300.0,
        "tags": None,
        "max_send_rate": None,
        "retry": RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=1.0),
        "rng": random.Random(7),
    }
    options.update(overrides)
    return SendingCore(**options)


def email(**changes: Any) -> Email:
    fields: dict[str, Any] = {"sender": SENDER, "to": "jane@example.com", "subject": "Hi", "text": "Hello"}
    fields.update(changes)
    return Email(**fields)


def ok(request: Request) -> dict[str, Any]:
    if request.operation in ("get_configuration_set", "describe_configuration_set"):
        return {"ConfigurationSetName": request.params["ConfigurationSetName"]}
    if request.operation == "get_account":
        return {"SendQuota": {"MaxSendRate": 10.0, "Max24HourSend": 1000.0, "SentLast24Hours": 0.0}}
    if request.operation == "get_send_quota":
        return {"MaxSendRate": 10.0, "Max24HourSend": 1000.0, "SentLast24Hours": 0.0}
    return {"MessageId": f"msg-{id(request)}", "ResponseMetadata": {"RequestId": "req-ok"}}


# ------------------------------------------------------------------ request parameters


def test_v2_simple_send_parameters() -> None:
    message = email(
        to=["Jane <jane@example.com>"],
        cc="cc@example.com",
        bcc="bcc@example.com",
        reply_to="replies@example.com",
        html="<b>Hello</b>",
        tags={"campaign": "spring"},
        feedback_address="bounces@example.com",
    )
    request, chosen, tags, _ = core(tags={"app": "shop", "campaign": "default"}).prepare_send(message)
    assert (request.operation, chosen, dict(tags)) == (
        "send_email",
        "default-set",
        {"app": "shop", "campaign": "spring"},
    )
    assert request.params == {
        "FromEmailAddress": "Shop <shop@example.com>",
        "Destination": {
            "ToAddresses": ["Jane <jane@example.com>"],
            "CcAddresses": ["cc@example.com"],
            "BccAddresses": ["bcc@example.com"],
        },
        "Content": {
            "Simple": {
                "Subject": {"Data": "Hi", "Charset": "UTF-8"},
                "Body": {
                    "Text": {"Data": "Hello", "Charset": "UTF-8"},
                    "Html": {"Data": "<b>Hello</b>", "Charset": "UTF-8"},
                },
            }
        },
        "ReplyToAddresses": ["replies@example.com"],
        "FeedbackForwardingEmailAddress": "bounces@example.com",
        "ConfigurationSetName": "default-set",
        "EmailTags": [{"Name": "app", "Value": "shop"}, {"Name": "campaign", "Value": "spring"}],
    }


@pytest.mark.parametrize(
    ("changes", "content"),
    [
        ({}, "Simple"),
        ({"attachments": [Attachment("a.txt", b"attached")]}, "Raw"),
        ({"subject": None, "text": None, "template": Template("welcome", data={"name": "Jane"})}, "Template"),
    ],
)
def test_list_management_goes_with_every_kind_of_v2_send(changes: dict[str, Any], content: str) -> None:
    message = email(list_management=ListManagement("newsletter", topic="weekly"), **changes)
    request, _, _, _ = core().prepare_send(message)
    assert request.operation == "send_email"
    assert list(request.params["Content"]) == [content]
    assert request.params["ListManagementOptions"] == {"ContactListName": "newsletter", "TopicName": "weekly"}
    managed = email(list_management=ListManagement("newsletter"), **changes)
    without_topic, _, _, _ = core().prepare_send(managed)
    assert without_topic.params["ListManagementOptions"] == {"ContactListName": "newsletter"}
    plain, _, _, _ = core().prepare_send(email(**changes))
    assert "ListManagementOptions" not in plain.params


def test_list_management_is_refused_on_v1_and_with_own_unsubscribe_headers() -> None:
    with pytest.raises(ValidationError, match=r"list_management.*v2 API"):
        core(api="v1").prepare_send(email(list_management=ListManagement("newsletter")))
    with pytest.raises(ValidationError, match="SES writes the List-Unsubscribe headers"):
        email(
            list_management=ListManagement("newsletter"),
            list_unsubscribe=ListUnsubscribe(url="https://example.com/u"),
        )
    for bad in ("", "  ", None, "a\nb"):
        with pytest.raises(ValidationError, match=r"list_management\.contact_list"):
            ListManagement(bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"list_management\.topic"):
        ListManagement("newsletter", topic="")
    with pytest.raises(ValidationError, match="give a sesflow ListManagement"):
        email(list_management={"ContactListName": "newsletter"})


def test_v1_simple_send_parameters() -> None:
    message = email(feedback_address="bounces@example.com", tags={"a": "b"}, configuration_set="override")
    request, chosen, _, _ = core(api="v1").prepare_send(message)
    assert (request.operation, chosen) == ("send_email", "override")
    assert request.params == {
        "Source": "Shop <shop@example.com>",
        "Destination": {"ToAddresses": ["jane@example.com"]},
        "Message": {
            "Subject": {"Data": "Hi", "Charset": "UTF-8"},
            "Body": {"Text": {"Data": "Hello", "Charset": "UTF-8"}},
        },
        "ReturnPath": "bounces@example.com",
        "ConfigurationSetName": "override",
        "Tags": [{"Name": "a", "Value": "b"}],
    }


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_raw_send_carries_all_recipients_and_the_set_in_params_and_headers(api: str) -> None:
    message = email(
        bcc="hidden@example.com",
        attachments=[Attachment("a.txt", b"attached")],
        list_unsubscribe=ListUnsubscribe(url="https://example.com/u"),
        tags={"t": "1"},
    )
    request, _, _, _ = core(api=api).prepare_send(message)
    if api == "v2":
        assert request.operation == "send_email"
        data = request.params["Content"]["Raw"]["Data"]
        assert request.params["Destination"] == {
            "ToAddresses": ["jane@example.com"],
            "BccAddresses": ["hidden@example.com"],
        }
        assert request.params["EmailTags"] == [{"Name": "t", "Value": "1"}]
    else:
        assert request.operation == "send_raw_email"
        data = request.params["RawMessage"]["Data"]
        assert request.params["Destinations"] == ["jane@example.com", "hidden@example.com"]
        assert request.params["Tags"] == [{"Name": "t", "Value": "1"}]
    assert request.params["ConfigurationSetName"] == "default-set"
    assert b"X-SES-CONFIGURATION-SET: default-set\r\n" in data
    assert b"X-SES-MESSAGE-TAGS: t=1\r\n" in data
    assert b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in data
    assert b"hidden@example.com" not in data


def test_templated_send_parameters() -> None:
    stored = email(subject=None, text=None, template=Template("welcome", data={"name": "Jane"}))
    v1, _, _, _ = core(api="v1").prepare_send(stored)
    assert v1.operation == "send_templated_email"
    assert (v1.params["Template"], v1.params["TemplateData"]) == ("welcome", '{"name":"Jane"}')
    v2, _, _, _ = core().prepare_send(
        stored.replace(list_unsubscribe=ListUnsubscribe(url="https://example.com/u"))
    )
    assert v2.params["Content"] == {
        "Template": {
            "TemplateName": "welcome",
            "TemplateData": '{"name":"Jane"}',
            "Headers": [
                {"Name": "List-Unsubscribe", "Value": "<https://example.com/u>"},
                {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
            ],
        }
    }
    inline = stored.replace(template=Template(subject="Hi {{name}}", text="Hello {{name}}"))
    request, _, _, _ = core().prepare_send(inline)
    assert request.params["Content"]["Template"] == {
        "TemplateContent": {"Subject": "Hi {{name}}", "Text": "Hello {{name}}"},
        "TemplateData": "{}",
    }


def test_what_v1_cannot_carry_is_refused_before_sending() -> None:
    v1 = core(api="v1")
    inline = email(subject=None, text=None, template=Template(subject="s", text="t"))
    with pytest.raises(ValidationError, match="v1 API sends only stored templates"):
        v1.prepare_send(inline)
    with pytest.raises(ValidationError, match="cannot add headers") as excinfo:
        v1.prepare_send(email(subject=None, text=None, template=Template("t"), headers={"X-A": "1"}))
    assert excinfo.value.field == "headers"
    with pytest.raises(ValidationError) as excinfo:
        v1.prepare_send(email(feedback_address="b@example.com", attachments=[Attachment("a.txt", b"x")]))
    assert excinfo.value.field == "feedback_address"


def test_v1_refuses_messages_over_10_mb_that_v2_takes() -> None:
    message = email(attachments=[Attachment("big.bin", bytes(8 * 1024 * 1024))])
    request, _, _, _ = core().prepare_send(message)
    assert len(request.params["Content"]["Raw"]["Data"]) > 10 * 1024 * 1024
    with pytest.raises(ValidationError, match="v1 limit is 10,485,760"):
        core(api="v1").prepare_send(message)


def test_bulk_parameters_v1_and_v2() -> None:
    template = Template("promo", data={"greeting": "Hi"})
    destinations = [
        Destination("a@example.com", data={"name": "A"}, tags={"segment": "vip"}),
        Destination(["b@example.com"], cc="c@example.com"),
    ]
    v2 = core(tags={"app": "shop"})
    run = v2.prepare_bulk(
        template, destinations, sender=SENDER, reply_to="r@example.com", tags={"campaign": "c1"}
    )
    (request,) = run.first_requests
    assert request.operation == "send_bulk_email"
    assert request.params == {
        "FromEmailAddress": "Shop <shop@example.com>",
        "DefaultContent": {"Template": {"TemplateName": "promo", "TemplateData": '{"greeting":"Hi"}'}},
        "BulkEmailEntries": [
            {
                "Destination": {"ToAddresses": ["a@example.com"]},
                "ReplacementTags": [{"Name": "segment", "Value": "vip"}],
                "ReplacementEmailContent": {
                    "ReplacementTemplate": {"ReplacementTemplateData": '{"name":"A"}'}
                },
            },
            {"Destination": {"ToAddresses": ["b@example.com"], "CcAddresses": ["c@example.com"]}},
        ],
        "ReplyToAddresses": ["r@example.com"],
        "ConfigurationSetName": "default-set",
        "DefaultEmailTags": [{"Name": "app", "Value": "shop"}, {"Name": "campaign", "Value": "c1"}],
    }
    run1 = core(api="v1").prepare_bulk(template, destinations, sender=SENDER)
    (request1,) = run1.first_requests
    assert request1.operation == "send_bulk_templated_email"
    assert request1.params == {
        "Source": "Shop <shop@example.com>",
        "Template": "promo",
        "DefaultTemplateData": '{"greeting":"Hi"}',
        "Destinations": [
            {
                "Destination": {"ToAddresses": ["a@example.com"]},
                "ReplacementTags": [{"Name": "segment", "Value": "vip"}],
                "ReplacementTemplateData": '{"name":"A"}',
            },
            {"Destination": {"ToAddresses": ["b@example.com"], "CcAddresses": ["c@example.com"]}},
        ],
        "ConfigurationSetName": "default-set",
    }


def test_bulk_is_checked_whole_before_anything_is_sent() -> None:
    destinations = [Destination(f"d{i}@example.com") for i in range(60)]
    destinations.append(
        Destination("late@example.com", list_unsubscribe=ListUnsubscribe(url="https://x.example/u"))
    )
    with pytest.raises(ValidationError) as excinfo:
        core(api="v1").prepare_bulk(Template("t"), destinations, sender=SENDER)
    assert excinfo.value.field == "destinations[10].headers"  # index within its chunk of 50
    with pytest.raises(ValidationError, match="Destination objects"):
        core().prepare_bulk(Template("t"), ["a@example.com"], sender=SENDER)  # type: ignore[list-item]
    with pytest.raises(ValidationError) as excinfo:
        core().prepare_bulk(Template("t"), destinations, sender="bad")
    assert excinfo.value.field == "sender"


# ------------------------------------------------------------------ configuration set policy and cache


def test_a_send_without_a_configuration_set_raises_unless_opted_out() -> None:
    with pytest.raises(ConfigurationSetRequired):
        Transport(ok).run(core(configuration_set=None).send(email()))
    transport = Transport(ok)
    result = transport.run(core(configuration_set=None, allow_no_configuration_set=True).send(email()))
    assert result.configuration_set is None
    assert transport.operations() == ["send_email"]
    assert "ConfigurationSetName" not in transport.requests[0].params
    # The per-message set works for a client without a default, and is checked.
    transport = Transport(ok)
    result = transport.run(core(configuration_set=None).send(email(configuration_set="mine")))
    assert result.configuration_set == "mine"
    assert transport.operations() == ["get_configuration_set", "send_email"]


def test_existence_is_checked_once_then_cached_until_the_ttl() -> None:
    clock = Clock()
    sending = core(clock=clock, configuration_set_ttl=60.0)
    transport = Transport(ok)
    for _ in range(3):
        transport.run(sending.send(email()))
    assert transport.operations() == ["get_configuration_set", "send_email", "send_email", "send_email"]
    assert transport.locks == ["configuration-set:default-set"]
    clock.now += 61
    transport.run(sending.send(email()))
    assert transport.operations()[-2:] == ["get_configuration_set", "send_email"]


def test_a_missing_set_raises_before_any_send_and_is_cached_briefly() -> None:
    clock = Clock()

    def answer(request: Request) -> Any:
        if request.operation == "describe_configuration_set":
            raise client_error("ConfigurationSetDoesNotExist", "Configuration set <typo> does not exist.")
        return ok(request)

    sending = core(api="v1", configuration_set="typo", clock=clock)
    transport = Transport(answer)
    for _ in range(2):
        with pytest.raises(ConfigurationSetNotFound) as excinfo:
            transport.run(sending.send(email()))
        assert excinfo.value.configuration_set == "typo"
        assert excinfo.value.code == "ConfigurationSetDoesNotExist"
        assert excinfo.value.request_id == "req-1"
    assert transport.operations() == ["describe_configuration_set"]  # the second answer came from the cache
    clock.now += 31  # a missing set is remembered for at most 30 s
    with pytest.raises(ConfigurationSetNotFound):
        transport.run(sending.send(email()))
    assert transport.operations() == ["describe_configuration_set"] * 2


def test_v2_not_found_on_the_check_means_the_set_even_in_other_words() -> None:
    def answer(request: Request) -> Any:
        raise client_error("NotFoundException", "Resource not found", status=404)

    with pytest.raises(ConfigurationSetNotFound):
        Transport(answer).run(core().send(email()))


def test_other_check_failures_explain_how_to_skip_the_check() -> None:
    def answer(request: Request) -> Any:
        raise client_error(
            "AccessDeniedException", "not authorized to perform ses:GetConfigurationSet", status=403
        )

    with pytest.raises(AccessDenied) as excinfo:
        Transport(answer).run(core().send(email()))
    assert any("verify_configuration_set=False" in note for note in excinfo.value.__notes__)
    transport = Transport(lambda r: ok(r) if r.operation == "send_email" else answer(r))
    transport.run(core(verify_configuration_set=False).send(email()))
    assert transport.operations() == ["send_email"]


def test_a_send_rejected_for_a_missing_set_maps_and_forgets_the_cache() -> None:
    sends = 0

    def answer(request: Request) -> Any:
        nonlocal sends
        if request.operation == "send_email":
            sends += 1
            if sends == 2:
                raise client_error("BadRequestException", "Configuration set <default-set> does not exist.")
        return ok(request)

    sending = core()
    transport = Transport(answer)
    transport.run(sending.send(email()))
    with pytest.raises(ConfigurationSetNotFound):
        transport.run(sending.send(email()))
    assert sending.cached_configuration_set("default-set") is None
    transport.run(sending.send(email()))
    assert transport.operations() == [
        "get_configuration_set",
        "send_email",
        "send_email",
        "get_configuration_set",
        "send_email",
    ]


def test_invalid_client_options() -> None:
    with pytest.raises(ValidationError) as excinfo:
        core(configuration_set="bad name")
    assert excinfo.value.field == "configuration_set"
    with pytest.raises(ValidationError):
        core(api="v3")
    with pytest.raises(ValidationError):
        core(max_send_rate="fast")
    with pytest.raises(ValidationError):
        core(max_send_rate=0)
    with pytest.raises(ValidationError):
        core(configuration_set_ttl=0)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("code", "message", "status", "expected"),
    [
        ("MessageRejected", "Email address is not verified.", 400, MessageRejected),
        ("MailFromDomainNotVerifiedException", "", 400, MailFromDomainNotVerified),
        (
            "ConfigurationSetDoesNotExist",
            "Configuration set <x> does not exist.",
            400,
            ConfigurationSetNotFound,
        ),
        ("NotFoundException", "Configuration set <x> does not exist.", 404, ConfigurationSetNotFound),
        ("BadRequestException", "Configuration set <x> does not exist", 400, ConfigurationSetNotFound),
        ("NotFoundException", "Template t does not exist.", 404, TemplateNotFound),
        ("TemplateDoesNotExist", "Template t does not exist.", 400, TemplateNotFound),
        ("ConfigurationSetSendingPausedException", "", 400, ConfigurationSetSendingPaused),
        ("AccountSendingPausedException", "", 400, AccountSendingPaused),
        ("SendingPausedException", "Sending is paused for this account.", 400, AccountSendingPaused),
        (
            "SendingPausedException",
            "Sending paused for configuration set x.",
            400,
            ConfigurationSetSendingPaused,
        ),
        ("SendingPausedException", "paused", 400, SendingPaused),
        ("AccountSuspendedException", "", 400, AccountSuspended),
        ("Throttling", "Maximum sending rate exceeded.", 400, Throttled),
        ("Throttling", "Daily message quota exceeded.", 400, DailyQuotaExceeded),
        ("TooManyRequestsException", "Too many requests", 429, Throttled),
        ("LimitExceededException", "Daily message quota exceeded.", 400, DailyQuotaExceeded),
        ("LimitExceededException", "Too many resources", 400, LimitExceeded),
        ("BadRequestException", "Missing final '@domain'", 400, InvalidParameter),
        ("InvalidParameterValue", "Illegal address", 400, InvalidParameter),
        ("AccessDeniedException", "", 403, AccessDenied),
        ("InternalFailure", "", 500, TransientFailure),
        ("SomethingNew", "", 503, TransientFailure),
        ("SomethingNew", "what", 400, SesApiError),
    ],
)
def test_client_errors_map_to_types_keeping_code_and_request_id(
    code: str, message: str, status: int, expected: type[SesError]
) -> None:
    error = error_from_exception(
        client_error(code, message, status=status, request_id="rid-9"), configuration_set="cs"
    )
    assert type(error) is expected
    assert error is not None
    assert (error.code, error.request_id, error.http_status, error.configuration_set) == (
        code,
        "rid-9",
        status,
        "cs",
    )
    assert error.ses_message == message
    assert "rid-9" in str(error)


def test_transport_errors_map_by_whether_the_request_left() -> None:
    refused = error_from_exception(
        botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"), configuration_set=None
    )
    assert isinstance(refused, TransientFailure)
    assert refused.retryable
    timeout = error_from_exception(
        botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"), configuration_set=None
    )
    assert isinstance(timeout, SendOutcomeUnknown)
    assert not timeout.retryable
    assert error_from_exception(ValueError("not ours"), configuration_set=None) is None


def test_errors_pickle_with_their_details() -> None:
    import pickle

    error = Throttled("Maximum sending rate exceeded.", code="Throttling", request_id="r", http_status=400)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is Throttled
    assert (clone.code, clone.request_id, clone.http_status, str(clone)) == (
        "Throttling",
        "r",
        400,
        str(error),
    )


# ------------------------------------------------------------------ retries


def test_throttling_is_retried_with_jittered_backoff() -> None:
    failures = [client_error("Throttling", "Maximum sending rate exceeded.")] * 2

    def answer(request: Request) -> Any:
        if request.operation == "send_email" and failures:
            raise failures.pop()
        return ok(request)

    transport = Transport(answer)
    result = transport.run(core(verify_configuration_set=False).send(email()))
    assert result.attempts == 3
    assert transport.operations() == ["send_email"] * 3
    assert len(transport.sleeps) == 2
    assert 0 <= transport.sleeps[0] <= 0.1
    assert 0 <= transport.sleeps[1] <= 0.2


def test_retries_stop_after_max_attempts() -> None:
    def answer(request: Request) -> Any:
        raise client_error("TooManyRequestsException", "slow down", status=429)

    transport = Transport(answer)
    with pytest.raises(Throttled) as excinfo:
        transport.run(core(verify_configuration_set=False).send(email()))
    assert transport.operations() == ["send_email"] * 4
    assert isinstance(excinfo.value.__cause__, botocore.exceptions.ClientError)


@pytest.mark.parametrize(
    "failure",
    [
        client_error("Throttling", "Daily message quota exceeded."),
        client_error("AccountSendingPausedException", "paused"),
        client_error("MessageRejected", "Email address is not verified."),
        botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"),
    ],
)
def test_quota_paused_rejected_and_unknown_outcomes_are_not_retried(failure: Exception) -> None:
    def answer(request: Request) -> Any:
        raise failure

    transport = Transport(answer)
    with pytest.raises(SesError):
        transport.run(core(verify_configuration_set=False).send(email()))
    assert transport.operations() == ["send_email"]
    assert transport.sleeps == []


def test_connections_that_never_opened_are_retried() -> None:
    failures = [botocore.exceptions.EndpointConnectionError(endpoint_url="http://x")]

    def answer(request: Request) -> Any:
        if failures:
            raise failures.pop()
        return ok(request)

    transport = Transport(answer)
    assert transport.run(core(verify_configuration_set=False).send(email())).attempts == 2


def test_retry_policy_delays_are_full_jitter_within_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=3.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (9, 3.0)]:
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not a fixed wait
    with pytest.raises(ValidationError):
        RetryPolicy(max_attempts=0)


# ------------------------------------------------------------------ rate


def test_token_bucket_paces_to_the_rate_after_a_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(10, clock=clock)
    assert [bucket.reserve() for _ in range(10)] == [0.0] * 10  # a second's worth at once
    waits = [bucket.reserve() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    clock.now += 1.0
    assert bucket.reserve() == pytest.approx(0.0)


def test_token_bucket_takes_requests_larger_than_the_burst_and_repays_them() -> None:
    clock = Clock()
    bucket = TokenBucket(14, clock=clock)
    assert bucket.reserve(50) == 0.0  # one bulk call of 50 goes now...
    assert bucket.reserve(50) == pytest.approx(36 / 14)  # ...the next waits until the debt is repaid
    clock.now += 10
    assert bucket.reserve(1) == pytest.approx(0.0)


def test_account_rate_is_read_once_and_paces_sends() -> None:
    clock = Clock()
    sending = core(max_send_rate="account", verify_configuration_set=False, clock=clock)
    transport = Transport(ok)  # the account allows 10/s; sleeps do not advance the clock here
    for _ in range(12):
        transport.run(sending.send(email()))
    assert transport.operations() == ["get_account"] + ["send_email"] * 12
    assert transport.locks == ["send-rate"]
    assert sending.max_send_rate == 10.0
    assert transport.sleeps == pytest.approx([0.1])  # 10 in the burst, the 11th into debt, the 12th waits


def test_v1_reads_the_send_quota() -> None:
    transport = Transport(ok)
    sending = core(api="v1", max_send_rate="account", verify_configuration_set=False)
    transport.run(sending.send(email()))
    assert transport.operations() == ["get_send_quota", "send_email"]
    assert sending.max_send_rate == 10.0


def test_unreadable_account_rate_warns_and_sends_unpaced(caplog: pytest.LogCaptureFixture) -> None:
    def answer(request: Request) -> Any:
        if request.operation == "get_account":
            raise client_error("AccessDeniedException", "no ses:GetAccount", status=403)
        return ok(request)

    sending = core(max_send_rate="account", verify_configuration_set=False)
    transport = Transport(answer)
    with caplog.at_level(logging.WARNING, logger="sesflow.sending"):
        for _ in range(30):
            transport.run(sending.send(email()))
    assert transport.operations() == ["get_account"] + ["send_email"] * 30
    assert sending.max_send_rate is None
    assert transport.sleeps == []
    assert "max_send_rate=" in caplog.text


def test_a_given_rate_counts_recipients() -> None:
    sending = core(max_send_rate=5, verify_configuration_set=False, clock=Clock())
    transport = Transport(ok)
    transport.run(sending.send(email(to=[f"r{i}@example.com" for i in range(5)])))
    transport.run(sending.send(email()))
    assert transport.sleeps == []  # the first five recipients fit the burst, the sixth goes into debt
    transport.run(sending.send(email()))
    assert transport.sleeps == pytest.approx([0.2])


def test_clients_given_one_bucket_share_one_rate() -> None:
    bucket = TokenBucket(2, clock=Clock())
    first = core(max_send_rate=bucket, verify_configuration_set=False)
    second = core(max_send_rate=bucket, verify_configuration_set=False)
    transport = Transport(ok)
    transport.run(first.send(email(to=["a@example.com", "b@example.com"])))  # the burst of two
    transport.run(second.send(email()))  # into debt, without waiting
    assert transport.sleeps == []
    transport.run(first.send(email()))
    assert transport.sleeps == pytest.approx([0.5])  # the other client's debt is this one's wait
    assert first.max_send_rate == second.max_send_rate == 2.0


# ------------------------------------------------------------------ bulk bookkeeping


def run_bulk(
    sending: SendingCore, transport: Transport, destinations: list[Destination], **kwargs: Any
) -> Any:
    run = sending.prepare_bulk(Template("t"), destinations, sender=SENDER, **kwargs)
    transport.run(sending.bulk_start(run))
    for number in range(len(run.chunks)):
        if run.stopped is None:
            transport.run(sending.bulk_chunk(run, number))
    return run.result()


def bulk_answer(statuses: dict[str, list[str]]) -> Callable[[Request], Any]:
    def answer(request: Request) -> Any:
        if request.operation != "send_bulk_email":
            return ok(request)
        results = []
        for entry in request.params["BulkEmailEntries"]:
            address = entry["Destination"]["ToAddresses"][0]
            queue = statuses.get(address, ["SUCCESS"])
            status = queue.pop(0) if len(queue) > 1 else queue[0]
            results.append(
                {"Status": status, "MessageId": f"id-{address}"}
                if status == "SUCCESS"
                else {"Status": status, "Error": status}
            )
        return {"BulkEmailEntryResults": results, "ResponseMetadata": {"RequestId": "bulk-req"}}

    return answer


def test_bulk_chunks_into_50s_with_one_result_per_destination_in_order() -> None:
    destinations = [Destination(f"d{i}@example.com") for i in range(120)]
    transport = Transport(bulk_answer({}))
    progress: list[BulkProgress] = []
    result = run_bulk(core(), transport, destinations, progress=progress.append)
    sizes = [
        len(r.params["BulkEmailEntries"]) for r in transport.requests if r.operation == "send_bulk_email"
    ]
    assert sizes == [50, 50, 20]
    assert [entry.index for entry in result] == list(range(120))
    assert [entry.message_id for entry in result] == [f"id-d{i}@example.com" for i in range(120)]
    assert result.ok
    assert result.calls == 3
    assert [(p.done, p.total, p.calls) for p in progress] == [(50, 120, 1), (100, 120, 2), (120, 120, 3)]


def test_bulk_retries_only_retryable_entries_and_never_duplicates() -> None:
    statuses = {
        "d3@example.com": ["ACCOUNT_THROTTLED", "SUCCESS"],
        "d7@example.com": ["TRANSIENT_FAILURE", "ACCOUNT_THROTTLED", "SUCCESS"],
        "d9@example.com": ["MESSAGE_REJECTED"],
        "d11@example.com": ["ACCOUNT_THROTTLED"],  # throttled every time
    }
    transport = Transport(bulk_answer(statuses))
    result = run_bulk(core(), transport, [Destination(f"d{i}@example.com") for i in range(12)])
    bulk_calls = [r for r in transport.requests if r.operation == "send_bulk_email"]
    sent = [[e["Destination"]["ToAddresses"][0] for e in r.params["BulkEmailEntries"]] for r in bulk_calls]
    assert sent[1] == ["d3@example.com", "d7@example.com", "d11@example.com"]
    assert sent[2] == ["d7@example.com", "d11@example.com"]
    assert sent[3] == ["d11@example.com"]
    assert len(bulk_calls) == 4  # max_attempts
    by_index = {entry.index: entry for entry in result}
    assert (by_index[3].status, by_index[3].attempts) == (BulkStatus.SUCCESS, 2)
    assert (by_index[7].status, by_index[7].attempts) == (BulkStatus.SUCCESS, 3)
    assert by_index[9].status == BulkStatus.MESSAGE_REJECTED
    assert isinstance(by_index[9].error, MessageRejected)
    assert by_index[11].status == BulkStatus.ACCOUNT_THROTTLED
    assert isinstance(by_index[11].error, Throttled)
    assert by_index[11].attempts == 4
    assert [e.index for e in result.failed] == [9, 11]
    assert result.to_retry() == (by_index[11].destination,)
    assert len(transport.sleeps) == 3


def test_a_stopping_status_ends_the_run_and_marks_the_rest_not_sent() -> None:
    statuses = {"d60@example.com": ["ACCOUNT_DAILY_QUOTA_EXCEEDED"]}
    transport = Transport(bulk_answer(statuses))
    result = run_bulk(core(), transport, [Destination(f"d{i}@example.com") for i in range(150)])
    assert result.calls == 2
    statuses_seen = [entry.status for entry in result]
    assert statuses_seen[:50] == [BulkStatus.SUCCESS] * 50
    assert statuses_seen[60] == BulkStatus.ACCOUNT_DAILY_QUOTA_EXCEEDED
    assert statuses_seen[100:] == [BulkStatus.NOT_SENT] * 50
    assert isinstance(result[120].error, DailyQuotaExceeded)
    assert len(result.to_retry()) == 50


def test_a_call_error_fails_its_chunk_and_a_stopping_one_ends_the_run() -> None:
    calls = 0

    def answer(request: Request) -> Any:
        nonlocal calls
        if request.operation != "send_bulk_email":
            return ok(request)
        calls += 1
        if calls == 1:
            raise client_error("BadRequestException", "Invalid address in this chunk")
        if calls == 2:
            raise client_error("NotFoundException", "Template t does not exist.", status=404)
        return bulk_answer({})(request)

    result = run_bulk(core(), Transport(answer), [Destination(f"d{i}@example.com") for i in range(150)])
    assert {e.status for e in result.entries[:50]} == {BulkStatus.INVALID_PARAMETER}
    assert {e.status for e in result.entries[50:100]} == {BulkStatus.TEMPLATE_NOT_FOUND}
    assert {e.status for e in result.entries[100:]} == {BulkStatus.NOT_SENT}
    assert calls == 2


def test_an_unknown_outcome_is_not_resent() -> None:
    def answer(request: Request) -> Any:
        if request.operation == "send_bulk_email":
            raise botocore.exceptions.ConnectionClosedError(endpoint_url="http://x")
        return ok(request)

    transport = Transport(answer)
    result = run_bulk(core(), transport, [Destination(f"d{i}@example.com") for i in range(70)])
    assert transport.operations().count("send_bulk_email") == 1
    assert {e.status for e in result.entries[:50]} == {BulkStatus.OUTCOME_UNKNOWN}
    assert {e.status for e in result.entries[50:]} == {BulkStatus.NOT_SENT}
    assert len(result.to_retry()) == 20


def test_an_answer_with_the_wrong_number_of_results_is_an_unknown_outcome() -> None:
    def answer(request: Request) -> Any:
        if request.operation == "send_bulk_email":
            return {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": "only-one"}]}
        return ok(request)

    result = run_bulk(core(), Transport(answer), [Destination(f"d{i}@example.com") for i in range(3)])
    assert [e.status for e in result] == [BulkStatus.OUTCOME_UNKNOWN] * 3


def test_bulk_checks_the_set_before_the_first_call() -> None:
    def answer(request: Request) -> Any:
        if request.operation == "get_configuration_set":
            raise client_error(
                "NotFoundException", "Configuration set <default-set> does not exist.", status=404
            )
        return bulk_answer({})(request)

    transport = Transport(answer)
    with pytest.raises(ConfigurationSetNotFound):
        run_bulk(core(), transport, [Destination("a@example.com")])
    assert transport.operations() == ["get_configuration_set"]


def test_v1_bulk_statuses_are_normalised_and_moto_style_answers_accepted() -> None:
    def answer(request: Request) -> Any:
        if request.operation == "send_bulk_templated_email":
            return {
                "Status": [
                    {"Status": "Success", "MessageId": "m1"},
                    {"Status": "AccountThrottled", "Error": "slow"},
                    {"MessageId": "m3"},  # moto: no Status at all
                ]
            }
        return ok(request)

    sending = core(api="v1", retry=RetryPolicy(max_attempts=1))
    result = run_bulk(sending, Transport(answer), [Destination(f"d{i}@example.com") for i in range(3)])
    assert [e.status for e in result] == [
        BulkStatus.SUCCESS,
        BulkStatus.ACCOUNT_THROTTLED,
        BulkStatus.SUCCESS,
    ]
    assert result[1].error is not None
    assert result[1].error.code == "AccountThrottled"
    assert BulkStatus.from_ses("SomethingNew").is_known is False


def test_an_empty_bulk_send_makes_no_calls() -> None:
    transport = Transport(ok)
    result = run_bulk(core(), transport, [])
    assert len(result) == 0
    assert result.ok
    assert transport.requests == []
