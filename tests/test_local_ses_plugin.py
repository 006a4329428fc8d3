"""The pytest plugin (``sesflow.testing.pytest_plugin``): its fixtures, run by pytest itself in a temporary
project, as a user's test suite would use them."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import json

import pytest

from sesflow.sending import Email

SIM = "simulator.amazonses.com"


def pipeline(local_ses, name):
    ses = local_ses.client("ses")
    ses.create_configuration_set(ConfigurationSet={"Name": name})
    ses.verify_domain_identity(Domain="example.com")
    topic = local_ses.client("sns").create_topic(Name=name)["TopicArn"]
    sqs = local_ses.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    local_ses.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    local_ses.add_destination(name, "events", topic_arn=topic)
    return url


@pytest.mark.local_ses(seed=3, outcomes={"@example.org": "bounce"})
def test_marker_options_reach_the_simulator(local_ses):
    url = pipeline(local_ses, "marked")
    local_ses.ses_client("marked").send(
        Email("shop@example.com", "jane@example.org", subject="Hi", text="Hello")
    )
    bodies = local_ses.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    records = [json.loads(json.loads(m["Body"])["Message"]) for m in bodies]
    assert [r["eventType"] for r in records] == ["Send", "Bounce"]


def test_each_test_gets_a_fresh_simulator(local_ses):
    pipeline(local_ses, "fresh")
    local_ses.ses_client("fresh").send(
        Email("shop@example.com", f"complaint@{SIM}", subject="Hi", text="Hello")
    )
    assert [e.event_type.value for e in local_ses.events()] == ["Send", "Delivery", "Complaint"]
"""

PLUGIN_OPTIONS = ("-p", "no:sesflow", "-p", "sesflow.testing.pytest_plugin", "--strict-markers")


def test_the_fixtures_in_a_user_project(
    pytester: pytest.Pytester, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A subprocess: pytest's in-process runs drop the modules they imported afterwards, which would leave
    # this process's moto server with two copies of cryptography. Only this plugin is loaded there.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(test_user=USER_TESTS)  # the plugin starts its own server for these
    given = pytester.mkpydir("given")
    (given / "conftest.py").write_text(
        f"""
import pytest

@pytest.fixture(scope="session")
def local_ses_endpoint():
    return {moto_server!r}
"""
    )
    (given / "test_given.py").write_text(
        USER_TESTS.replace('"marked"', '"marked-given"').replace('"fresh"', '"fresh-given"')
        + f"""

def test_the_given_server_is_used(local_ses):
    assert local_ses.endpoint_url == {moto_server!r}
"""
    )
    result = pytester.runpytest_subprocess(*PLUGIN_OPTIONS)
    result.assert_outcomes(passed=5)
