"""Provisioning against moto in server mode.

moto 5.2 has no SES v2 event-destination API, so destinations on moto use ``api="v1"`` (SNS, Firehose,
CloudWatch). EventBridge destinations exist only in v2: that path is checked with botocore's Stubber, the one
place here where moto cannot answer. moto also keeps event destinations by name across all sets (and shows
one per set), so each test uses its own set and its own destination name.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from sesflow.events import EventType
from sesflow.provisioning import Provisioner, ProvisioningError, policies


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_sns_sqs_pipeline_is_built_and_idempotent(provisioner: Provisioner) -> None:
    cs = _name("cs")
    first = provisioner.ensure_sns_sqs_pipeline(
        cs, event_types=[EventType.BOUNCE, EventType.COMPLAINT], destination_name=cs
    )
    assert [r.status for r in first.resources] == ["created"] * 6

    second = provisioner.ensure_sns_sqs_pipeline(
        cs, event_types=[EventType.COMPLAINT, EventType.BOUNCE], destination_name=cs
    )
    assert [r.status for r in second.resources] == ["exists"] * 6
    assert second.queue_url == first.queue_url

    sqs = provisioner.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=first.queue_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive == {"deadLetterTargetArn": first.dead_letter_queue.arn, "maxReceiveCount": 5}
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": first.topic.arn}}

    topic_policy = json.loads(
        provisioner.client("sns").get_topic_attributes(TopicArn=first.topic.arn)["Attributes"]["Policy"]
    )
    (topic_statement,) = topic_policy["Statement"]
    assert topic_statement["Principal"] == {"Service": "ses.amazonaws.com"}
    assert topic_statement["Condition"]["ArnLike"]["AWS:SourceArn"] == [
        f"arn:aws:ses:us-east-1:123456789012:configuration-set/{cs}"
    ]

    (destination,) = provisioner.client("ses").describe_configuration_set(
        ConfigurationSetName=cs, ConfigurationSetAttributeNames=["eventDestinations"]
    )["EventDestinations"]
    assert destination["SNSDestination"]["TopicARN"] == first.topic.arn
    assert sorted(destination["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert destination["Enabled"] is True


def test_pipeline_delivers_a_published_record_to_the_queue(provisioner: Provisioner) -> None:
    cs = _name("cs")
    pipeline = provisioner.ensure_sns_sqs_pipeline(cs, destination_name=cs)
    provisioner.client("sns").publish(TopicArn=pipeline.topic.arn, Message='{"eventType": "Send"}')
    messages = provisioner.client("sqs").receive_message(QueueUrl=pipeline.queue_url, WaitTimeSeconds=1)[
        "Messages"
    ]
    envelope = json.loads(messages[0]["Body"])
    assert envelope["TopicArn"] == pipeline.topic.arn
    assert json.loads(envelope["Message"]) == {"eventType": "Send"}


def test_raw_delivery_is_applied_and_changed_in_place(provisioner: Provisioner) -> None:
    cs = _name("cs")
    provisioner.ensure_sns_sqs_pipeline(cs, raw_delivery=True, destination_name=cs)
    changed = provisioner.ensure_sns_sqs_pipeline(cs, raw_delivery=False, destination_name=cs)
    assert changed.subscription.status == "updated"
    attributes = provisioner.client("sns").get_subscription_attributes(
        SubscriptionArn=changed.subscription.arn
    )
    assert attributes["Attributes"]["RawMessageDelivery"] == "false"


def test_changed_queue_settings_are_updated(provisioner: Provisioner) -> None:
    cs = _name("cs")
    provisioner.ensure_sns_sqs_pipeline(cs, max_receive_count=5, destination_name=cs)
    again = provisioner.ensure_sns_sqs_pipeline(cs, max_receive_count=3, destination_name=cs)
    assert again.queue.status == "updated"
    attributes = provisioner.client("sqs").get_queue_attributes(
        QueueUrl=again.queue_url, AttributeNames=["All"]
    )
    assert json.loads(attributes["Attributes"]["RedrivePolicy"])["maxReceiveCount"] == 3


def test_firehose_pipeline_is_built_and_idempotent(provisioner: Provisioner) -> None:
    cs, bucket = _name("cs"), _name("lake")
    first = provisioner.ensure_firehose_s3_pipeline(cs, bucket, destination_name=cs)
    assert [r.status for r in first.resources] == ["created"] * 6
    assert [
        r.status for r in provisioner.ensure_firehose_s3_pipeline(cs, bucket, destination_name=cs).resources
    ] == ["exists"] * 6

    description = provisioner.client("firehose").describe_delivery_stream(DeliveryStreamName=f"{cs}-events")
    (destination,) = description["DeliveryStreamDescription"]["Destinations"]
    s3 = destination["ExtendedS3DestinationDescription"]
    assert s3["Prefix"] == "events/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    assert s3["BucketARN"] == f"arn:aws:s3:::{bucket}"
    assert s3["RoleARN"] == first.firehose_role.arn

    iam = provisioner.client("iam")
    ses_policy = iam.get_role_policy(RoleName=f"{cs}-events-ses", PolicyName="sesflow")["PolicyDocument"]
    assert ses_policy["Statement"][0]["Resource"] == first.delivery_stream.arn
    trust = iam.get_role(RoleName=f"{cs}-events-ses")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ses.amazonaws.com"}

    (ses_destination,) = provisioner.client("ses").describe_configuration_set(
        ConfigurationSetName=cs, ConfigurationSetAttributeNames=["eventDestinations"]
    )["EventDestinations"]
    assert ses_destination["KinesisFirehoseDestination"] == {
        "IAMRoleARN": first.ses_role.arn,
        "DeliveryStreamARN": first.delivery_stream.arn,
    }


def test_cloudwatch_destination(provisioner: Provisioner) -> None:
    cs = _name("cs")
    provisioner.ensure_configuration_set(cs)
    made = provisioner.ensure_cloudwatch_destination(cs, [("campaign", "message_tag", "none")], name=cs)
    assert made.status == "created"
    (stored,) = provisioner.client("ses").describe_configuration_set(
        ConfigurationSetName=cs, ConfigurationSetAttributeNames=["eventDestinations"]
    )["EventDestinations"]
    assert stored["CloudWatchDestination"]["DimensionConfigurations"] == [
        {"DimensionName": "campaign", "DimensionValueSource": "messageTag", "DefaultDimensionValue": "none"}
    ]
    assert (
        provisioner.ensure_cloudwatch_destination(cs, [("campaign", "MESSAGE_TAG", "none")], name=cs).status
        == "exists"
    )


def test_eventbridge_needs_v2(provisioner: Provisioner) -> None:
    with pytest.raises(ValueError, match="only in the SES v2 API"):
        provisioner.ensure_eventbridge_destination(_name("cs"))


def test_eventbridge_destination_with_v2_is_created_then_left_alone() -> None:
    # moto has no v2 event-destination API: botocore's Stubber answers as SES would, and checks our requests.
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="eu-west-1")
    provisioner = Provisioner(session)
    provisioner._account_id = "111122223333"  # no STS call needed for this check
    client = provisioner.client("sesv2")
    wanted: dict[str, Any] = {
        "Enabled": True,
        "MatchingEventTypes": ["BOUNCE", "COMPLAINT"],
        "EventBridgeDestination": {"EventBusArn": "arn:aws:events:eu-west-1:111122223333:event-bus/default"},
    }
    with Stubber(client) as stub:
        stub.add_response(
            "get_configuration_set_event_destinations",
            {"EventDestinations": []},
            {"ConfigurationSetName": "cs"},
        )
        stub.add_response(
            "create_configuration_set_event_destination",
            {},
            {"ConfigurationSetName": "cs", "EventDestinationName": "eventbridge", "EventDestination": wanted},
        )
        stub.add_response(
            "get_configuration_set_event_destinations",
            {"EventDestinations": [{"Name": "eventbridge", **wanted}]},
            {"ConfigurationSetName": "cs"},
        )
        first = provisioner.ensure_eventbridge_destination(
            "cs", event_types=[EventType.BOUNCE, EventType.COMPLAINT]
        )
        second = provisioner.ensure_eventbridge_destination(
            "cs", event_types=[EventType.COMPLAINT, EventType.BOUNCE]
        )
        stub.assert_no_pending_responses()
    assert (first.status, second.status) == ("created", "exists")


def test_teardown_deletes_only_what_was_created(provisioner: Provisioner) -> None:
    cs = _name("cs")
    existing_queue = _name("kept")
    provisioner.ensure_queue(existing_queue, attributes={"MessageRetentionPeriod": "1209600"})
    pipeline = provisioner.ensure_sns_sqs_pipeline(
        cs, dead_letter_queue_name=existing_queue, destination_name=cs
    )
    assert pipeline.dead_letter_queue.status == "exists"

    deleted = provisioner.teardown(pipeline.resources)
    assert {r.kind for r in deleted} == {
        "configuration-set",
        "sns-topic",
        "sqs-queue",
        "sns-subscription",
        "event-destination:sns",
    }
    sqs = provisioner.client("sqs")
    assert sqs.get_queue_url(QueueName=existing_queue)["QueueUrl"]
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=f"{cs}-events")
    topics = {t["TopicArn"] for t in provisioner.client("sns").list_topics()["Topics"]}
    assert pipeline.topic.arn not in topics
    with pytest.raises(provisioner.client("ses").exceptions.ConfigurationSetDoesNotExistException):
        provisioner.client("ses").describe_configuration_set(ConfigurationSetName=cs)


def test_teardown_of_a_firehose_pipeline_removes_roles_stream_and_bucket(provisioner: Provisioner) -> None:
    cs, bucket = _name("cs"), _name("lake")
    pipeline = provisioner.ensure_firehose_s3_pipeline(cs, bucket, destination_name=cs)
    provisioner.client("s3").put_object(Bucket=bucket, Key="events/year=2026/month=01/day=01/x", Body=b"{}\n")
    provisioner.teardown(pipeline.resources)
    iam = provisioner.client("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=f"{cs}-events-ses")
    assert bucket not in {b["Name"] for b in provisioner.client("s3").list_buckets()["Buckets"]}


def test_dry_run_calls_nothing() -> None:
    # An endpoint where nothing listens: any AWS call would fail.
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    dry = Provisioner(session, endpoint_url="http://127.0.0.1:9", dry_run=True)
    pipeline = dry.ensure_sns_sqs_pipeline("planned-set")
    assert {r.status for r in pipeline.resources} == {"planned"}
    assert pipeline.destination.details["event_types"] == [t.value for t in EventType]
    firehose = dry.ensure_firehose_s3_pipeline("planned-set", "planned-bucket")
    assert firehose.delivery_stream.details["prefix"].startswith("events/year=!{timestamp:yyyy}")
    assert [r.name for r in dry.teardown(pipeline.resources)] == []


def test_invalid_configuration_set_name_is_refused_before_any_call() -> None:
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    provisioner = Provisioner(session, endpoint_url="http://127.0.0.1:9")
    provisioner._account_id = "123456789012"
    with pytest.raises(ValueError, match="configuration set"):
        provisioner.ensure_configuration_set("not a valid name!")


def test_aws_errors_become_provisioning_errors(provisioner: Provisioner) -> None:
    with pytest.raises(ProvisioningError) as caught:
        provisioner.ensure_cloudwatch_destination(_name("missing"), [("campaign", "MESSAGE_TAG", "none")])
    assert caught.value.code


def _all_actions(document: dict[str, Any]) -> list[str]:
    actions: list[str] = []
    for statement in document["Statement"]:
        value = statement["Action"]
        actions.extend([value] if isinstance(value, str) else value)
    return actions


def test_policies_are_least_privilege() -> None:
    sender = policies.sender_policy(
        "us-east-1",
        "123456789012",
        identities=["example.com"],
        configuration_sets=["app"],
        from_addresses=["a@example.com"],
    )
    send = sender["Statement"][0]
    assert send["Resource"] == [
        "arn:aws:ses:us-east-1:123456789012:identity/example.com",
        "arn:aws:ses:us-east-1:123456789012:configuration-set/app",
    ]
    assert send["Condition"] == {"StringEquals": {"ses:FromAddress": ["a@example.com"]}}
    wildcard = [s for s in sender["Statement"] if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == [["ses:GetAccount", "ses:GetSendQuota"]]

    worker = policies.worker_policy(["arn:aws:sqs:us-east-1:123456789012:q"])
    assert "sqs:SendMessage" not in _all_actions(worker)
    assert worker["Statement"][0]["Resource"] == ["arn:aws:sqs:us-east-1:123456789012:q"]

    documents = [
        sender,
        worker,
        policies.ses_firehose_policy("arn:aws:firehose:us-east-1:1:deliverystream/s"),
        policies.firehose_s3_policy("lake"),
        policies.ses_eventbridge_policy("arn:aws:events:us-east-1:1:event-bus/default"),
    ]
    for document in documents:
        assert all(
            "FullAccess" not in a and a != "*" and not a.endswith(":*") for a in _all_actions(document)
        )
    assert policies.firehose_s3_policy("lake")["Statement"][1]["Resource"] == [
        "arn:aws:s3:::lake/events/*",
        "arn:aws:s3:::lake/errors/*",
    ]
    with pytest.raises(ValueError, match="configuration set"):
        policies.sender_policy("us-east-1", "1", identities=["example.com"], configuration_sets=[])


def test_an_unreachable_endpoint_is_a_provisioning_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # the answer is the same after botocore's retries, only later
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
    provisioner = Provisioner(session, endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ProvisioningError, match="get_caller_identity"):
        provisioner.ensure_topic("unreachable")
