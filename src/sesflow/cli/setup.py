"""``sesflow setup``: build the SES event pipelines (idempotently), or print the plan and IAM documents."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..events import EventType
from ._console import UsageError, console, require_rich
from ._output import activity, print_json, show_table

__all__ = ["add_setup_parser", "parse_event_types", "run_setup"]

_DESCRIPTION = """\
Create what SES needs to publish a configuration set's events, and what the events flow into:
  sns-sqs      configuration set -> SNS topic -> SQS queue (with a dead-letter queue, the queue policy
               that lets only that topic send, and the topic policy that lets only SES publish for this set)
  firehose-s3  configuration set -> Firehose -> S3 bucket under events/year=YYYY/month=MM/day=DD/
               (gzip NDJSON), with the role Firehose writes with and the role SES puts records with;
               with --lake parquet, Firehose converts every record to Parquet under parquet/year=.../,
               using a Glue table generated from sesflow's event models (Athena queries it as is)
  eventbridge  configuration set -> the default EventBridge bus (SES v2 API only)
Every step looks before it creates: running the command again changes nothing and says "exists".
--tenant NAME also makes an SES tenant that sends with this configuration set and the --identity
identities (created, associated, given a reputation policy; SES v2 API).
--dry-run calls nothing and prints the plan and the least-privilege IAM policy documents instead.
Against a local emulator (--endpoint-url), such as moto, use --api v1: moto has no v2 event
destinations."""

_STATUS_STYLES = {"created": "green", "updated": "yellow", "exists": "dim", "planned": "cyan"}


def parse_event_types(text: str) -> list[EventType]:
    """``"bounce,complaint"`` (any SES spelling: ``Bounce``, ``BOUNCE``, ``rendering-failure``...)."""
    from ..events import event_types_from_names

    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one event type")
    found = event_types_from_names(names)
    unknown = [n for n in names if not event_types_from_names([n])]
    if unknown:
        valid = ", ".join(t.value for t in EventType)
        raise argparse.ArgumentTypeError(f"unknown event type(s) {', '.join(unknown)}: use {valid}")
    return [t for t in EventType if t in found]


def add_aws_options(parser: argparse.ArgumentParser) -> None:
    """``--region``, ``--endpoint-url`` and ``--profile``, as every AWS-facing subcommand takes them."""
    aws = parser.add_argument_group("AWS")
    aws.add_argument(
        "--region", metavar="REGION", help="AWS region (default: from the environment or profile)"
    )
    aws.add_argument(
        "--endpoint-url", metavar="URL", help="send every call here (a local emulator such as moto)"
    )
    aws.add_argument("--profile", metavar="NAME", help="the AWS profile to use")


def add_setup_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``setup`` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "setup",
        help="create the configuration set and its event pipelines (idempotent; --dry-run shows the plan)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-c", "--configuration-set", required=True, metavar="NAME", help="the configuration set's name"
    )
    parser.add_argument(
        "--pipeline",
        action="append",
        choices=["sns-sqs", "firehose-s3", "eventbridge"],
        help="what to build (repeat for several; default: sns-sqs)",
    )
    parser.add_argument(
        "--event-types",
        type=parse_event_types,
        metavar="TYPES",
        help="comma-separated event types the destinations publish (default: all)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="call nothing: print the plan and IAM policies"
    )
    parser.add_argument(
        "--policies", action="store_true", help="also print the IAM policies after a real run"
    )
    parser.add_argument(
        "--identity",
        action="append",
        default=[],
        metavar="IDENTITY",
        help="a verified identity (domain or address) the app sends as: adds the sender's IAM policy",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    tenant = parser.add_argument_group("tenant")
    tenant.add_argument(
        "--tenant",
        metavar="NAME",
        help="also ensure this tenant, with the configuration set and identities associated",
    )
    tenant.add_argument(
        "--reputation-policy",
        choices=["none", "standard", "strict"],
        default="standard",
        help="the tenant's reputation policy (default: standard)",
    )
    tenant.add_argument(
        "--tenant-suppression",
        choices=["TENANT", "ACCOUNT"],
        help="the tenant's suppression list: its own (TENANT) or the account's (default: left as it is)",
    )
    parser.add_argument(
        "--api", choices=["v1", "v2"], default="v2", help="SES API for event destinations (default: v2)"
    )
    add_aws_options(parser)
    sns = parser.add_argument_group("sns-sqs")
    sns.add_argument("--topic-name", metavar="NAME", help="default: <configuration set>-events")
    sns.add_argument("--queue-name", metavar="NAME", help="default: <configuration set>-events")
    sns.add_argument("--dead-letter-queue-name", metavar="NAME", help="default: <queue name>-dlq")
    sns.add_argument(
        "--max-receive-count", type=int, metavar="N", default=5, help="receives before the DLQ (default 5)"
    )
    sns.add_argument(
        "--visibility-timeout",
        type=int,
        metavar="SECONDS",
        default=60,
        help="queue visibility timeout, s (60)",
    )
    sns.add_argument("--raw-delivery", action="store_true", help="SNS raw message delivery (no envelope)")
    sns.add_argument(
        "--sns-destination-name", metavar="NAME", default="sns-to-sqs", help="default: sns-to-sqs"
    )
    firehose = parser.add_argument_group("firehose-s3")
    firehose.add_argument(
        "--bucket", metavar="NAME", help="the S3 bucket events land in (required for firehose-s3)"
    )
    firehose.add_argument("--stream-name", metavar="NAME", help="default: <configuration set>-events")
    firehose.add_argument(
        "--lake",
        choices=["ndjson", "parquet"],
        default="ndjson",
        help="what Firehose writes: gzip NDJSON (default) or Parquet with a Glue table",
    )
    firehose.add_argument(
        "--glue-database", metavar="NAME", default="sesflow", help="Glue database (--lake parquet; sesflow)"
    )
    firehose.add_argument(
        "--glue-table", metavar="NAME", help="Glue table (--lake parquet; default: <set>_events)"
    )
    firehose.add_argument(
        "--firehose-destination-name",
        metavar="NAME",
        default="firehose-to-s3",
        help="default: firehose-to-s3",
    )
    eventbridge = parser.add_argument_group("eventbridge")
    eventbridge.add_argument(
        "--eventbridge-destination-name", metavar="NAME", default="eventbridge", help="default: eventbridge"
    )
    return parser


def _policies(provisioner: Any, args: argparse.Namespace, resources: dict[str, Any]) -> dict[str, Any]:
    from ..provisioning import policies

    region, account = provisioner.region, provisioner.account_id
    cs_arn = policies.configuration_set_arn(region, account, args.configuration_set)
    out: dict[str, Any] = {}
    if args.identity:
        out["sender (the application that sends)"] = policies.sender_policy(
            region,
            account,
            identities=args.identity,
            configuration_sets=[args.configuration_set],
            tenants=[args.tenant] if args.tenant else (),
        )
    if args.tenant:
        out["tenant suppression (managing the tenant's list)"] = policies.tenant_suppression_policy(
            region, account, [args.tenant]
        )
    sns_sqs = resources.get("sns-sqs")
    if sns_sqs is not None:
        queue_arn = sns_sqs.queue.arn or f"arn:aws:sqs:{region}:{account}:{sns_sqs.queue.name}"
        topic_arn = sns_sqs.topic.arn or ""
        out["worker (the SQS consumer)"] = policies.worker_policy([queue_arn])
        out["SNS topic policy (SES publishes this set's events)"] = policies.ses_sns_topic_policy(
            topic_arn, account, [cs_arn]
        )
        out["SQS queue policy (only the topic may send)"] = policies.sns_to_sqs_queue_policy(
            queue_arn, topic_arn
        )
    firehose = resources.get("firehose-s3")
    if firehose is not None:
        out["Firehose role: trust"] = policies.firehose_trust_policy(account)
        if firehose.glue_table is not None:
            out["Firehose role: write to the bucket"] = policies.firehose_s3_policy(
                firehose.bucket.name, ("parquet/", "errors/")
            )
            out["Firehose role: read the Glue table"] = policies.firehose_glue_policy(
                region, account, firehose.glue_table.parent or "", firehose.glue_table.name
            )
        else:
            out["Firehose role: write to the bucket"] = policies.firehose_s3_policy(firehose.bucket.name)
        out["SES role: trust"] = policies.ses_trust_policy(account)
        out["SES role: put records"] = policies.ses_firehose_policy(firehose.delivery_stream.arn or "")
    return out


def _check_v2_destinations(provisioner: Any, configuration_set: str, endpoint_url: str) -> None:
    """Before creating anything, ask a local endpoint once whether it has SES v2 event destinations.

    Only an answer that is not the SES API at all (moto answers an HTTP 404 page) stops the command: SES's
    own NotFoundException for a set that does not exist yet means the API is there.
    """
    from botocore.exceptions import ClientError

    try:
        provisioner.client("sesv2").get_configuration_set_event_destinations(
            ConfigurationSetName=configuration_set
        )
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code.isdigit():  # botocore's stand-in for a code when the answer held none
            raise UsageError(
                f"{endpoint_url} has no SES v2 event destinations (it answered HTTP {code} to "
                "GetConfigurationSetEventDestinations): add --api v1; nothing was created"
            ) from exc


def run_setup(args: argparse.Namespace) -> int:
    """Run ``sesflow setup``; returns the exit status."""
    import boto3

    from ..provisioning import ALL_EVENT_TYPES, Provisioner, ProvisioningError

    pipelines = list(dict.fromkeys(args.pipeline or ["sns-sqs"]))
    if "firehose-s3" in pipelines and not args.bucket:
        raise UsageError("the firehose-s3 pipeline needs --bucket NAME")
    if args.lake == "parquet" and "firehose-s3" not in pipelines:
        raise UsageError(
            "--lake parquet is an option of the firehose-s3 pipeline: add --pipeline firehose-s3"
        )
    if "eventbridge" in pipelines and args.api == "v1":
        raise UsageError("EventBridge destinations exist only in the SES v2 API: drop --api v1")
    if not args.json:
        require_rich()
    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    provisioner = Provisioner(
        session,
        region=args.region,
        endpoint_url=args.endpoint_url,
        api=args.api,
        dry_run=args.dry_run,
    )
    event_types = args.event_types or list(ALL_EVENT_TYPES)
    built: dict[str, Any] = {}
    resources = []
    if args.endpoint_url and args.api == "v2" and not args.dry_run:
        _check_v2_destinations(provisioner, args.configuration_set, args.endpoint_url)
    try:
        if "sns-sqs" in pipelines:
            with activity(f"Building the sns-sqs pipeline of {args.configuration_set}…"):
                built["sns-sqs"] = provisioner.ensure_sns_sqs_pipeline(
                    args.configuration_set,
                    topic_name=args.topic_name,
                    queue_name=args.queue_name,
                    dead_letter_queue_name=args.dead_letter_queue_name,
                    max_receive_count=args.max_receive_count,
                    visibility_timeout=args.visibility_timeout,
                    raw_delivery=args.raw_delivery,
                    event_types=event_types,
                    destination_name=args.sns_destination_name,
                )
            resources.extend(built["sns-sqs"].resources)
        if "firehose-s3" in pipelines:
            with activity(f"Building the firehose-s3 pipeline of {args.configuration_set}…"):
                built["firehose-s3"] = provisioner.ensure_firehose_s3_pipeline(
                    args.configuration_set,
                    args.bucket,
                    stream_name=args.stream_name,
                    event_types=event_types,
                    destination_name=args.firehose_destination_name,
                    lake=args.lake,
                    glue_database=args.glue_database,
                    glue_table=args.glue_table,
                )
            resources.extend(built["firehose-s3"].resources)
        if "eventbridge" in pipelines:
            with activity(f"Building the eventbridge destination of {args.configuration_set}…"):
                resources.append(provisioner.ensure_configuration_set(args.configuration_set))
                resources.append(
                    provisioner.ensure_eventbridge_destination(
                        args.configuration_set,
                        name=args.eventbridge_destination_name,
                        event_types=event_types,
                    )
                )
        if args.tenant:
            with activity(f"Setting up tenant {args.tenant}…"):
                resources.extend(
                    provisioner.ensure_tenant(
                        args.tenant,
                        configuration_sets=[args.configuration_set],
                        identities=args.identity,
                        reputation_policy=args.reputation_policy,
                        suppression_scope=args.tenant_suppression,
                    ).resources
                )
    except ProvisioningError as exc:
        destinations = "sesv2" in exc.action and "tenant" not in exc.action  # not the tenant calls
        if args.endpoint_url and args.api == "v2" and destinations:
            raise ProvisioningError(
                exc.action,
                f"{exc.reason} (a local emulator may lack the SES v2 API: try --api v1)",
                code=exc.code,
            ) from exc
        raise
    unique: dict[tuple[str, str, str | None], Any] = {}
    for resource in resources:  # a configuration set shared by pipelines is shown once
        unique.setdefault((resource.kind, resource.name, resource.parent), resource)
    shown = list(unique.values())
    policies = _policies(provisioner, args, built) if (args.dry_run or args.policies) else {}

    if args.json:
        print(
            json.dumps(
                {
                    "dry_run": args.dry_run,
                    "region": provisioner.region,
                    "resources": [
                        {"kind": r.kind, "name": r.name, "arn": r.arn, "status": r.status, "parent": r.parent}
                        for r in shown
                    ],
                    "policies": policies,
                },
                indent=2,
            )
        )
        return 0

    from rich.text import Text

    out = console()
    title = (
        "Plan (dry run: nothing was called)"
        if args.dry_run
        else f"Configuration set {args.configuration_set}"
    )
    rows = [
        (
            r.kind,
            r.name,
            Text(r.status, _STATUS_STYLES.get(r.status, "")),
            r.arn or "",
            r.parent or "",
        )
        for r in shown
    ]
    show_table(out, ("resource", "name", "status", "ARN", "in"), rows, title=title, headline=3)
    changed = sum(r.changed for r in shown)
    if not args.dry_run:
        out.print(
            f"{changed} created or updated, {len(shown) - changed} already as wanted"
            if changed
            else "Nothing to do: everything exists as wanted."
        )
    for name, document in policies.items():
        out.print(Text(f"\nIAM policy: {name}", style="bold"))
        print_json(out, document)
    if args.dry_run:
        if not args.identity:
            out.print(Text("Add --identity DOMAIN to print the sending application's policy too.", "dim"))
        out.print(
            Text("Account 123456789012 in the plan stands for yours (a dry run asks AWS nothing).", "dim")
        )
    return 0
