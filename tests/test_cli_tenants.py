"""``sesflow setup --tenant`` and ``sesflow send --tenant`` through the entry point.

``send`` goes to FakeSes (moto has no tenants); ``setup`` is shown as a dry run, since its pipelines need SNS
and SQS, which FakeSes does not answer (``Provisioner.ensure_tenant`` itself is tested against FakeSes in
``test_provisioning_tenants.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sesflow.cli import main
from sesflow.testing import FakeSes

pytest.importorskip("rich", reason="the cli extra is not installed")

AWS = ["--region", "us-east-1"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSes]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with FakeSes(configuration_sets={"events"}, tenants={"acme"}) as server:
        yield server


def _send(fake: FakeSes, *argv: str) -> list[str]:
    message = ["--from", "shop@example.com", "--to", "jane@example.com", "--subject", "Hi", "--text", "Hello"]
    return [
        "send",
        "--endpoint-url",
        fake.endpoint_url,
        *AWS,
        "--max-send-rate",
        "none",
        "-c",
        "events",
        *message,
        *argv,
    ]


def test_send_for_a_tenant(fake: FakeSes, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, *_send(fake, "--tenant", "acme", "--json"))
    assert status == 0
    answer = json.loads(out)
    assert (answer["ok"], answer["tenant"]) == (True, "acme")
    assert [call.body["TenantName"] for call in fake.calls_of("SendEmail")] == ["acme"]
    status, out, _ = run(capsys, *_send(fake, "--tenant", "acme"))
    assert status == 0
    assert "for tenant acme" in " ".join(out.split())


def test_send_without_a_tenant_names_none(fake: FakeSes, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, *_send(fake, "--json"))
    assert status == 0
    assert "tenant" not in json.loads(out)
    assert "TenantName" not in fake.calls_of("SendEmail")[0].body


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tenant", "nobody"], "Tenant <nobody> does not exist"),
        (["--tenant", "bad name"], "not a valid tenant name"),
        (["--tenant", "acme", "--api", "v1"], "v2 API only"),
    ],
)
def test_send_refuses_a_tenant_it_cannot_send_for(
    fake: FakeSes, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, _, err = run(capsys, *_send(fake, *argv))
    assert status != 0
    assert message in " ".join(err.split())
    assert fake.calls_of("SendEmail") == []


def test_setup_dry_run_plans_the_tenant_and_its_policies(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["setup", "-c", "orders", "--dry-run", "--identity", "example.com", "--tenant", "acme"]
    status, out, _ = run(
        capsys, *argv, "--reputation-policy", "strict", "--endpoint-url", "http://127.0.0.1:9", *AWS, "--json"
    )
    assert status == 0
    plan = json.loads(out)
    tenant_rows = [r for r in plan["resources"] if r["kind"].startswith("tenant")]
    assert [(r["kind"], r["status"]) for r in tenant_rows] == [
        ("tenant", "planned"),
        ("tenant-resource", "planned"),
        ("tenant-resource", "planned"),
        ("tenant-reputation-policy", "planned"),
    ]
    assert {r["name"] for r in tenant_rows if r["kind"] == "tenant-resource"} == {
        "arn:aws:ses:us-east-1:123456789012:configuration-set/orders",
        "arn:aws:ses:us-east-1:123456789012:identity/example.com",
    }
    assert tenant_rows[-1]["arn"] == "arn:aws:ses:us-east-1:aws:reputation-policy/strict"
    sender = plan["policies"]["sender (the application that sends)"]["Statement"][0]
    assert sender["Condition"] == {"StringEquals": {"ses:TenantName": ["acme"]}}
    suppression = plan["policies"]["tenant suppression (managing the tenant's list)"]["Statement"][0]
    assert suppression["Resource"] == ["arn:aws:ses:us-east-1:123456789012:tenant/acme/*"]


def test_setup_refuses_a_bad_tenant_name_before_calling_anything(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(
        capsys,
        "setup",
        "-c",
        "orders",
        "--dry-run",
        "--tenant",
        "no good",
        "--endpoint-url",
        "http://127.0.0.1:9",
        *AWS,
    )
    assert status != 0
    assert "not a valid tenant name" in " ".join(err.split())
