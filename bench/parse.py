"""Parsing benchmark: sesflow against json.loads, orjson, pydantic v2 and msgspec, side by side in one run.

One mixed corpus (all ten SES event types at realistic sizes) is parsed in two shapes:

* ``raw``: each record as SES JSON bytes (Firehose, EventBridge ``detail`` once extracted, SNS raw delivery);
* ``sqs``: each record inside an SNS envelope, as the body of an SQS message (the envelope's ``Message`` is
  the record as a JSON string), so every implementation decodes the envelope first and then the record.

Every implementation is first checked to parse every record of the corpus to the same event type, message id,
timestamp, recipients and header count; only then is anything timed. Timings are interleaved (each repetition
times every implementation once, in turn) so that noise from the machine hits all of them alike, and the best
repetition of each is reported. Results are ratios against sesflow; absolute numbers depend on the machine.

Run ``python bench/parse.py`` (``--quick`` for a smoke run, ``--write`` to record the results in
``docs/benchmarks.md``). Needs the ``fast`` and ``bench`` extras: ``pip install -e ".[fast,bench]"``.
"""

from __future__ import annotations

import argparse
import base64
import copy
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

import sesflow
from sesflow.events import SesEvent, load_json
from sesflow.testing import sample_records

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import _msgspec_models as ms_models  # noqa: E402  (a sibling module of this script)
import _pydantic_models as pd_models  # noqa: E402
from _docs_page import machine, replace_section, versions  # noqa: E402

DOCS_PAGE = BENCH_DIR.parent / "docs" / "benchmarks.md"
# Whose versions the docs record.
PACKAGES = ("sesflow", "attrs", "cattrs", "orjson", "pydantic", "pydantic-core", "msgspec")
SECTION_TITLE = "## Parsing"
COMMAND = "python bench/parse.py --write"
SHAPES = {"raw": "raw SES JSON", "sqs": "SNS-in-SQS body"}
TARGETS = {"pydantic v2": 1.0, "msgspec": 1 / 3}
"""sesflow's events/s divided by each of these must be at least the value (issue 2)."""

# --- the corpus ---------------------------------------------------------------------------------------------

_FIRST_NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory"]
_DOMAINS = ["example.com", "example.org", "mail.example.net", "customer.example", "corp.example.co.uk"]
_CUSTOM_TAGS = {
    "campaign": ["spring-sale-2026", "welcome-series", "password-reset", "weekly-digest", "invoice"],
    "tenant": ["acme", "globex", "initech", "umbrella", "hooli"],
    "template": ["welcome_v3", "receipt_v12", "reset_v2", "digest_v7"],
    "category": ["transactional", "marketing", "notification"],
    "user-id": [str(n) for n in range(100_000, 100_040)],
    "environment": ["production", "staging"],
}
_EXTRA_HEADERS = [
    ("Reply-To", "Support <support@example.com>"),
    ("Content-Transfer-Encoding", "quoted-printable"),
    ("List-Unsubscribe", "<https://example.com/unsubscribe?u=8f1c2a9e&l=weekly>, <mailto:unsub@example.com>"),
    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ("Feedback-ID", "1.us-east-1.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd=:AmazonSES"),
    ("X-SES-Outgoing", "2026.01.01-54.240.8.1"),
    ("X-Mailer", "sesflow-bench/1.0"),
    ("Precedence", "bulk"),
    ("X-Entity-Ref-ID", "3f6b1c0e-1d2a-4b8e-9f00-123456789abc"),
    ("Auto-Submitted", "auto-generated"),
    ("X-Campaign-Id", "spring-sale-2026"),
    ("Thread-Topic", "Your order has shipped"),
    ("Importance", "normal"),
    ("X-Priority", "3"),
]


def _address(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST_NAMES)}.{rng.randrange(1000)}@{rng.choice(_DOMAINS)}"


def _dkim_signature(rng: random.Random, domain: str) -> str:
    b64 = base64.b64encode(rng.randbytes(256)).decode()
    body_hash = base64.b64encode(rng.randbytes(32)).decode()
    return (
        f"v=1; a=rsa-sha256; q=dns/txt; c=relaxed/simple; s=224i4yxa5dv7c2xz3womw6peuasteono; d={domain}; "
        f"t={1767268800 + rng.randrange(86400)}; "
        "h=From:Reply-To:To:Subject:MIME-Version:Content-Type:Content-Transfer-Encoding:Message-ID:Date:"
        f"List-Unsubscribe:List-Unsubscribe-Post:Feedback-ID; bh={body_hash}; b={b64}"
    )


def _vary(base: dict[str, Any], rng: random.Random, n: int) -> dict[str, Any]:
    """A realistic variation of one sample record: more headers, recipients and tags, fresh ids and times."""
    record = copy.deepcopy(base)
    mail = record["mail"]
    recipients = [_address(rng) for _ in range(rng.randint(1, 6))]
    source_domain = rng.choice(_DOMAINS)
    source = f"News <noreply@{source_domain}>" if rng.random() < 0.5 else f"noreply@{source_domain}"
    sent = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(30 * 86400), milliseconds=n)
    message_id = f"0100019{rng.randrange(16**9):09x}-{rng.randbytes(16).hex()}-000000"
    subject = rng.choice(
        ["Your order has shipped", "Welcome aboard!", "Reset your password", "Weekly digest"]
    )
    mail.update(
        timestamp=_ts(sent),
        messageId=message_id,
        source=source,
        destination=recipients,
        headersTruncated=False,
    )
    headers = [
        ("From", source),
        ("To", ", ".join(recipients)),
        ("Subject", subject),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="----=_Part_{n}_{rng.randrange(10**9)}"'),
        ("Message-ID", f"<{message_id}@email.amazonses.com>"),
        ("Date", sent.strftime("%a, %d %b %Y %H:%M:%S +0000")),
        ("DKIM-Signature", _dkim_signature(rng, source_domain)),
    ]
    headers += rng.sample(_EXTRA_HEADERS, rng.randint(2, 12))  # 10 to 20 headers in all
    mail["headers"] = [{"name": name, "value": value} for name, value in headers]
    common: dict[str, Any] = {
        "from": [source],
        "to": recipients,
        "date": sent.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        "messageId": message_id,
        "subject": subject,
    }
    if rng.random() < 0.4:
        common["replyTo"] = ["Support <support@example.com>"]
    mail["commonHeaders"] = common
    tags: dict[str, list[str]] = {
        "ses:configuration-set": [rng.choice(["transactional", "marketing", "ConfigSet"])],
        "ses:source-ip": [f"192.0.2.{rng.randrange(1, 255)}"],
        "ses:from-domain": [source_domain],
        "ses:caller-identity": ["ses-sender"],
        "ses:outgoing-ip": [f"54.240.{rng.randrange(256)}.{rng.randrange(256)}"],
        "ses:operation": ["SendEmail"],
    }
    for name in rng.sample(sorted(_CUSTOM_TAGS), rng.randint(2, 5)):
        tags[name] = [rng.choice(_CUSTOM_TAGS[name])]
    mail["tags"] = tags

    later = _ts(sent + timedelta(seconds=rng.uniform(0.5, 3600)))
    kind = record["eventType"]
    if kind == "Bounce":
        bounce = record["bounce"]
        bounce.update(timestamp=later, feedbackId=f"0100019{rng.randbytes(12).hex()}-000000")
        bounce["bouncedRecipients"] = [
            {
                "emailAddress": address,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": f"smtp; 550 5.1.1 <{address}>: Recipient address rejected: User unknown",
            }
            for address in recipients
        ]
    elif kind == "Complaint":
        complaint = record["complaint"]
        complaint.update(timestamp=later, arrivalDate=later)
        complaint["complainedRecipients"] = [{"emailAddress": address} for address in recipients]
    elif kind == "Delivery":
        record["delivery"].update(
            timestamp=later, recipients=recipients, processingTimeMillis=rng.randrange(200, 5000)
        )
    elif kind == "DeliveryDelay":
        delay = record["deliveryDelay"]
        delay.update(timestamp=later, expirationTime=_ts(sent + timedelta(hours=rng.randint(12, 24))))
        delay["delayedRecipients"] = [
            {
                "emailAddress": address,
                "status": "4.4.1",
                "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host",
            }
            for address in recipients
        ]
    elif kind == "Click":
        click = record["click"]
        click.update(timestamp=later, link=f"https://www.example.com/products/{rng.randrange(10**6)}?utm=ses")
        click["linkTags"] = {
            name: [rng.choice(_CUSTOM_TAGS[name])]
            for name in rng.sample(sorted(_CUSTOM_TAGS), rng.randint(1, 3))
        }
    elif kind in ("Open", "Subscription"):
        record[kind.lower()]["timestamp"] = later
    return record


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _sns_envelope(record_json: str, rng: random.Random, n: int) -> bytes:
    """The body SQS delivers for an SNS notification (without raw message delivery)."""
    topic = "arn:aws:sns:us-east-1:123456789012:ses-events"
    envelope = {
        "Type": "Notification",
        "MessageId": str(_uuid(rng)),
        "TopicArn": topic,
        "Message": record_json,
        "Timestamp": _ts(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n)),
        "SignatureVersion": "1",
        "Signature": base64.b64encode(rng.randbytes(256)).decode(),
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-"
        f"{rng.randbytes(16).hex()}.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
        f"{topic}:{_uuid(rng)}",
    }
    # SNS writes the envelope indented, with " : " between keys and values.
    return json.dumps(envelope, indent=2, separators=(",", " : ")).encode()


def _uuid(rng: random.Random) -> str:
    h = rng.randbytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Corpus:
    """The records (as dicts, for checking) and their two byte shapes, index for index."""

    records: list[dict[str, Any]]
    raw: list[bytes]
    sqs: list[bytes]

    def shape(self, name: str) -> list[bytes]:
        result: list[bytes] = getattr(self, name)
        return result


def build_corpus(variants_per_type: int = 49, seed: int = 20260101) -> Corpus:
    """Every sample event record (one per type) plus ``variants_per_type`` variations of each, shuffled."""
    rng = random.Random(seed)
    samples = [record for name, record in sample_records().items() if name.startswith("event_")]
    records = list(samples)
    for base in samples:
        records += [_vary(base, rng, n) for n in range(variants_per_type)]
    rng.shuffle(records)
    raw: list[bytes] = []
    sqs: list[bytes] = []
    for n, record in enumerate(records):
        text = json.dumps(record, separators=(",", ":"))  # SES publishes compact JSON
        raw.append(text.encode())
        sqs.append(_sns_envelope(text, rng, n))
    return Corpus(records, raw, sqs)


# --- the implementations ------------------------------------------------------------------------------------

Summary = tuple[str, str, datetime, tuple[str, ...], int]
"""What every implementation must agree on: event type, message id, event time, recipients, header count."""


@dataclass(frozen=True)
class Impl:
    """One way of parsing one shape of the corpus; ``summarize`` reads its result for the check."""

    name: str
    parse: Callable[[bytes], Any]
    summarize: Callable[[Any], Summary]
    is_sesflow: bool = False


_DETAIL_KEYS = {cls.EVENT_TYPE.value: str(cls.DETAIL_KEY) for cls in sesflow.events.EVENT_CLASSES}


def _summarize_dict(record: dict[str, Any]) -> Summary:
    """The reference summary, read straight from the JSON."""
    mail = record["mail"]
    detail = record.get(_DETAIL_KEYS[record["eventType"]]) or {}
    if "bouncedRecipients" in detail:
        recipients = [r["emailAddress"] for r in detail["bouncedRecipients"]]
    elif "complainedRecipients" in detail:
        recipients = [r["emailAddress"] for r in detail["complainedRecipients"]]
    elif "delayedRecipients" in detail:
        recipients = [r["emailAddress"] for r in detail["delayedRecipients"]]
    elif record["eventType"] == "Delivery":
        recipients = detail["recipients"]
    else:
        recipients = mail["destination"]
    stamp = detail.get("timestamp", mail["timestamp"])
    when = datetime.fromisoformat(stamp)
    return (record["eventType"], mail["messageId"], when, tuple(recipients), len(mail.get("headers") or ()))


def _summarize_sesflow(event: SesEvent) -> Summary:
    # Reading the headers also checks the lazily structured part of the parse.
    return (
        event.event_type.value,
        event.message_id,
        event.timestamp,
        event.recipients,
        len(event.mail.headers or ()),
    )


def _summarize_model(event: Any, event_type: str) -> Summary:
    """pydantic models and msgspec structs have the same attribute names."""
    mail = event.mail
    recipients = tuple(mail.destination)
    stamp = mail.timestamp
    for attr, listing in _MODEL_DETAILS:
        detail = getattr(event, attr, None)
        if detail is None:
            continue
        stamp = detail.timestamp
        if listing == "recipients":
            recipients = tuple(detail.recipients)
        elif listing:
            recipients = tuple(r.email_address for r in getattr(detail, listing))
    return (event_type, mail.message_id, stamp, recipients, len(mail.headers or ()))


_MODEL_DETAILS = [
    ("bounce", "bounced_recipients"),
    ("complaint", "complained_recipients"),
    ("delivery", "recipients"),
    ("delivery_delay", "delayed_recipients"),
    ("open", ""),
    ("click", ""),
    ("subscription", ""),
]
"""The detail attributes that carry a timestamp, and where each lists its recipients."""


def _summarize_pydantic(event: Any) -> Summary:
    return _summarize_model(event, event.event_type)


def _summarize_msgspec(event: Any) -> Summary:
    return _summarize_model(event, type(event).__struct_config__.tag)


def _read_lazy(event: Any) -> Any:
    event.mail.headers  # noqa: B018  (reading is the point: it structures the lazy fields)
    event.mail.common_headers  # noqa: B018
    event.mail.tags  # noqa: B018
    return event


ROWS = {
    "json.loads": "the standard library's decoder and no model: the floor. "
    "SQS: the envelope, then its `Message`.",
    "orjson.loads": "orjson and no model. SQS: the envelope, then its `Message`.",
    "sesflow": "`sesflow.parse_event(payload)`. SQS: `sesflow.events.load_json` (orjson when installed) "
    'of the envelope, then `parse_event(envelope["Message"])`. `mail.headers`, `mail.common_headers` and '
    "`mail.tags` are shape-checked but structured on first read.",
    "sesflow, stdlib json": "`parse_event(json.loads(payload))`: what sesflow does without the `fast` extra.",
    "sesflow + lazy fields": "sesflow, then reading `mail.headers`, `mail.common_headers` and `mail.tags`, "
    "which structures them: the cost for a handler that uses all three (pydantic and msgspec always pay it).",
    "pydantic v2": "`TypeAdapter(<discriminated union of the ten event models>).validate_json(payload)`, "
    "pydantic's fastest path (`bench/_pydantic_models.py`). SQS: an envelope `TypeAdapter` first.",
    "msgspec": "`msgspec.json.Decoder(<tagged union of the ten event structs>).decode(payload)` "
    "(`bench/_msgspec_models.py`). SQS: an envelope `Decoder` first.",
}
"""What each row of the table measures, for the report."""


def implementations() -> dict[str, list[Impl]]:
    """Every implementation of each shape, in table order (the order of :data:`ROWS`)."""
    parse_event = sesflow.parse_event
    pd_event = pd_models.event_adapter.validate_json
    pd_envelope = pd_models.envelope_adapter.validate_json
    ms_event = ms_models.event_decoder.decode
    ms_envelope = ms_models.envelope_decoder.decode
    json_loads = json.loads
    orjson_loads = orjson.loads
    raw = [
        Impl("json.loads", json_loads, _summarize_dict),
        Impl("orjson.loads", orjson_loads, _summarize_dict),
        Impl("sesflow", parse_event, _summarize_sesflow, is_sesflow=True),
        Impl("sesflow, stdlib json", lambda b: parse_event(json_loads(b)), _summarize_sesflow),
        Impl("sesflow + lazy fields", lambda b: _read_lazy(parse_event(b)), _summarize_sesflow),
        Impl("pydantic v2", pd_event, _summarize_pydantic),
        Impl("msgspec", ms_event, _summarize_msgspec),
    ]
    sqs = [
        Impl("json.loads", lambda b: json_loads(json_loads(b)["Message"]), _summarize_dict),
        Impl("orjson.loads", lambda b: orjson_loads(orjson_loads(b)["Message"]), _summarize_dict),
        Impl("sesflow", lambda b: parse_event(load_json(b)["Message"]), _summarize_sesflow, is_sesflow=True),
        Impl(
            "sesflow, stdlib json",
            lambda b: parse_event(json_loads(json_loads(b)["Message"])),
            _summarize_sesflow,
        ),
        Impl(
            "sesflow + lazy fields",
            lambda b: _read_lazy(parse_event(load_json(b)["Message"])),
            _summarize_sesflow,
        ),
        Impl("pydantic v2", lambda b: pd_event(pd_envelope(b).Message), _summarize_pydantic),
        Impl("msgspec", lambda b: ms_event(ms_envelope(b).Message), _summarize_msgspec),
    ]
    assert [impl.name for impl in raw] == [impl.name for impl in sqs] == list(ROWS)
    return {"raw": raw, "sqs": sqs}


class Disagreement(AssertionError):
    """An implementation failed on, or misread, a record of the corpus."""


def check(corpus: Corpus, impls: dict[str, list[Impl]]) -> int:
    """Parse every record with every implementation and compare with the JSON itself; returns the count."""
    expected = [_summarize_dict(record) for record in corpus.records]
    checked = 0
    for shape, group in impls.items():
        payloads = corpus.shape(shape)
        for impl in group:
            for index, (payload, want) in enumerate(zip(payloads, expected, strict=True)):
                try:
                    got = impl.summarize(impl.parse(payload))
                except Exception as exc:
                    raise Disagreement(f"{impl.name} ({shape}) failed on record {index}: {exc!r}") from exc
                if got != want:
                    raise Disagreement(f"{impl.name} ({shape}) misread record {index}: {got!r} != {want!r}")
                checked += 1
    return checked


# --- timing -------------------------------------------------------------------------------------------------


@dataclass
class Timing:
    impl: Impl
    runs: list[float] = field(default_factory=list)  # seconds per event, one per repetition

    @property
    def best(self) -> float:
        return min(self.runs)

    @property
    def events_per_second(self) -> float:
        return 1 / self.best


def _time_once(parse: Callable[[bytes], Any], payloads: Sequence[bytes], loops: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(loops):
        for payload in payloads:
            parse(payload)
    return (time.perf_counter() - start) / (loops * len(payloads))


def measure(
    corpus: Corpus, impls: dict[str, list[Impl]], reps: int, target_s: float
) -> dict[str, list[Timing]]:
    """Best time per event of each implementation, repetitions interleaved across implementations."""
    results: dict[str, list[Timing]] = {}
    for shape, group in impls.items():
        payloads = corpus.shape(shape)
        timings = [Timing(impl) for impl in group]
        # Calibrate: loops so that one repetition of the slowest implementation takes about target_s.
        slowest = max(_time_once(impl.parse, payloads, 1) for impl in group)
        loops = max(1, round(target_s / (slowest * len(payloads))))
        for _ in range(reps):
            for timing in timings:
                timing.runs.append(_time_once(timing.impl.parse, payloads, loops))
        results[shape] = timings
    return results


# --- reporting ----------------------------------------------------------------------------------------------


def _sesflow_rate(timings: list[Timing]) -> float:
    return next(t.events_per_second for t in timings if t.impl.is_sesflow)


def ratios(results: dict[str, list[Timing]]) -> dict[str, dict[str, float]]:
    """sesflow's events/s divided by each implementation's, per shape (above 1: sesflow is faster)."""
    return {
        shape: {t.impl.name: _sesflow_rate(timings) / t.events_per_second for t in timings}
        for shape, timings in results.items()
    }


def verdicts(results: dict[str, list[Timing]]) -> list[str]:
    lines = []
    for shape, by_name in ratios(results).items():
        for name, minimum in TARGETS.items():
            ratio = by_name[name]
            state = "met" if ratio >= minimum else "MISSED"
            lines.append(f"{SHAPES[shape]}: sesflow/{name} = {ratio:.2f} (target >= {minimum:.2f}): {state}")
    return lines


def lazy_costs(results: dict[str, list[Timing]]) -> list[str]:
    """How sesflow compares when a handler reads every lazy field (no target; shown so nothing is hidden)."""
    lines = []
    for shape, timings in results.items():
        rate = {t.impl.name: t.events_per_second for t in timings}
        ratio = rate["sesflow + lazy fields"] / rate["pydantic v2"]
        lines.append(
            f"{SHAPES[shape]}: (sesflow + lazy fields)/pydantic v2 = {ratio:.2f} "
            f"({'faster' if ratio >= 1 else 'slower'} than pydantic when mail.headers, common_headers and "
            "tags are all read)"
        )
    return lines


def _sizes(corpus: Corpus) -> str:
    raw = statistics.mean(map(len, corpus.raw)) / 1024
    sqs = statistics.mean(map(len, corpus.sqs)) / 1024
    return f"mean size {raw:.1f} KiB raw, {sqs:.1f} KiB as an SQS body"


def _corpus_line(corpus: Corpus) -> str:
    types = sorted({record["eventType"] for record in corpus.records})
    headers = [len(record["mail"].get("headers") or ()) for record in corpus.records]
    return (
        f"{len(corpus.records)} records, {len(types)} event types, "
        f"{min(headers)}-{max(headers)} headers each, {_sizes(corpus)}"
    )


def render_text(corpus: Corpus, results: dict[str, list[Timing]], reps: int) -> str:
    by_shape = ratios(results)
    names = [t.impl.name for t in results["raw"]]
    head = f"{'implementation':<24}" + "".join(
        f"{SHAPES[s] + ' ev/s':>26}{'sesflow/this':>14}" for s in results
    )
    lines = [f"corpus: {_corpus_line(corpus)}", f"{machine()}; best of {reps}", "", head, "-" * len(head)]
    for i, name in enumerate(names):
        row = f"{name:<24}"
        for shape, timings in results.items():
            row += f"{timings[i].events_per_second:>26,.0f}{by_shape[shape][name]:>14.2f}"
        lines.append(row)
    lines += ["", *verdicts(results), *lazy_costs(results)]
    return "\n".join(lines)


def render_markdown(corpus: Corpus, results: dict[str, list[Timing]], reps: int) -> str:
    by_shape = ratios(results)
    shapes = list(results)
    lines = [
        SECTION_TITLE,
        "",
        "`bench/parse.py` parses one mixed corpus of SES event-publishing records with each implementation, "
        "in two shapes: the raw SES JSON, and the body of an SQS message that an SNS topic delivered (the "
        "SNS envelope, whose `Message` is the record as a string: every implementation decodes the envelope "
        "first, then the record). Before timing, the script checks that every implementation parses every "
        "record to the same event type, message id, event time, recipients and header count.",
        "",
        f"- Corpus: {_corpus_line(corpus)}; the ten example records of the SES Developer Guide plus "
        "generated variations (10 to 20 headers with a long `DKIM-Signature`, 1 to 6 recipients, 2 to 5 "
        "custom tags).",
        f"- Machine: {machine()}.",
        f"- Versions: {versions(*PACKAGES)}.",
        f"- Method: `time.perf_counter`, best of {reps} repetitions, implementations interleaved; "
        "garbage collection on.",
        "",
        "A `sesflow ÷ this` ratio is sesflow's events/s divided by the row's: above 1, sesflow is faster.",
        "",
        "| implementation | " + " | ".join(f"{SHAPES[s]}: events/s | sesflow ÷ this" for s in shapes) + " |",
        "|---" + "|---:|---:" * len(shapes) + "|",
    ]
    for i, timing in enumerate(results["raw"]):
        name = timing.impl.name
        cells = []
        for shape in shapes:
            rate = results[shape][i].events_per_second
            cells.append(f"{rate:,.0f} | {by_shape[shape][name]:.2f}")
        label = f"**{name}**" if timing.impl.is_sesflow else name
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "What the rows are:",
        "",
        *(f"- **{name}**: {text}" for name, text in ROWS.items()),
        "",
        "What differs between the models (see `bench/_pydantic_models.py` and `bench/_msgspec_models.py`): "
        "the three have the same classes, fields, SES keys, optionality and timestamp types, and all three "
        "ignore unknown fields. sesflow's enums are open enums (an unknown value is kept and flagged), where "
        "the comparison models use plain strings, the cheapest open choice they have; sesflow also keeps the "
        "decoded record (`event.raw`) and parses both families (`eventType` and `notificationType`). The "
        "corpus holds only event-publishing records, which all three understand.",
        "",
        "Targets (sesflow's events/s divided by the other's):",
        "",
        *(f"- {line}" for line in verdicts(results)),
        "",
        "Not a target, for the whole picture: reading every lazy field costs this much:",
        "",
        *(f"- {line}" for line in lazy_costs(results)),
        "",
        "Reproduce:",
        "",
        "```sh",
        'pip install -e ".[fast,bench]"',
        COMMAND,
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: fewer repetitions, shorter runs")
    parser.add_argument("--write", action="store_true", help=f"record the results in {DOCS_PAGE.name}")
    args = parser.parse_args(argv)
    reps, target_s = (3, 0.05) if args.quick else (9, 0.4)

    corpus = build_corpus()
    impls = implementations()
    print(f"checking {sum(map(len, impls.values()))} implementations on {len(corpus.records)} records ...")
    check(corpus, impls)
    print("all agree; timing ...\n")
    results = measure(corpus, impls, reps, target_s)
    print(render_text(corpus, results, reps))
    if args.write:
        page = DOCS_PAGE.read_text(encoding="utf-8") if DOCS_PAGE.exists() else "# Benchmarks\n"
        DOCS_PAGE.write_text(replace_section(page, render_markdown(corpus, results, reps)), encoding="utf-8")
        print(f"\nwrote the results to {DOCS_PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
