"""Provisioner.ensure_tenant and the tenant IAM policies.

moto 5.2 has no tenant operation, so the tenant calls go to FakeSes (a real HTTP server answering like SES);
the provisioner is told its account id so that it asks no STS. The last test sends for the provisioned tenant
through SesClient to the same FakeSes, which refuses a tenant's send when a resource is not associated.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sesflow.provisioning import Provisioner, ProvisioningError, policies
from sesflow.sending import Email, SesClient, TenantNotAssociated, ValidationError
from sesflow.testing import FakeSes

ACCOUNT = "123456789012"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
# sesflow's clients say region= where boto3 says region_name=.
CLIENT_CREDENTIALS = {"region" if k == "region_name" else k: v for k, v in CREDENTIALS.items()}
BASE = f"arn:aws:ses:us-east-1:{ACCOUNT}"
STRICT = "arn:aws:ses:us-east-1:aws:reputation-policy/strict"


@pytest.fixture
def fake() -> Iterator[FakeSes]:
    with FakeSes(configuration_sets={"acme-events"}) as server:
        yield server


def provisioner(fake: FakeSes, **options: Any) -> Provisioner:
    session = boto3.session.Session(**CREDENTIALS)
    return Provisioner(session, endpoint_url=fake.endpoint_url, account_id=ACCOUNT, **options)


def ensure(p: Provisioner, **changes: Any) -> Any:
    options: dict[str, Any] = {
        "configuration_sets": ["acme-events"],
        "identities": ["acme.example.com"],
        "templates": ["welcome"],
        "reputation_policy": "strict",
        "suppression_scope": "tenant",
        "tags": {"customer": "acme"},
    }
    options.update(changes)
    return p.ensure_tenant("acme", **options)


def test_ensure_tenant_builds_everything_then_changes_nothing(fake: FakeSes) -> None:
    first = ensure(provisioner(fake))
    assert [(r.kind, r.status) for r in first.resources] == [
        ("tenant", "created"),
        ("tenant-resource", "created"),
        ("tenant-resource", "created"),
        ("tenant-resource", "created"),
        ("tenant-reputation-policy", "updated"),
        ("tenant-suppression", "updated"),
    ]
    tenant = fake.tenants["acme"]
    assert first.tenant.arn == tenant.arn
    assert tenant.resources == {
        f"{BASE}:configuration-set/acme-events",
        f"{BASE}:identity/acme.example.com",
        f"{BASE}:template/welcome",
    }
    assert tenant.reputation_policy == STRICT
    assert (tenant.suppression_scope, sorted(tenant.suppressed_reasons)) == (
        "TENANT",
        ["BOUNCE", "COMPLAINT"],
    )
    assert tenant.tags == [{"Key": "customer", "Value": "acme"}]

    before = len(fake.calls)
    second = ensure(provisioner(fake))
    assert {r.status for r in second.resources} == {"exists"}
    writes = {c.operation for c in fake.calls[before:]} - {
        "GetTenant",
        "ListTenantResources",
        "GetReputationEntity",
    }
    assert writes == set()


def test_changed_settings_are_updated_in_place(fake: FakeSes) -> None:
    ensure(provisioner(fake))
    again = ensure(
        provisioner(fake),
        reputation_policy="standard",
        suppression_scope="ACCOUNT",
        templates=["welcome", "bye"],
    )
    assert again.tenant.status == "exists"
    assert [r.status for r in again.associations] == ["exists", "exists", "exists", "created"]
    assert again.reputation_policy is not None
    assert again.reputation_policy.status == "updated"
    assert fake.tenants["acme"].reputation_policy == "arn:aws:ses:us-east-1:aws:reputation-policy/standard"
    assert fake.tenants["acme"].suppression_scope == "ACCOUNT"
    untouched = ensure(provisioner(fake), reputation_policy=None, suppression_scope=None)
    assert (untouched.reputation_policy, untouched.suppression) == (None, None)
    assert fake.tenants["acme"].reputation_policy.endswith("/standard")  # type: ignore[union-attr]


def test_the_dry_run_plans_every_step_and_calls_nothing() -> None:
    session = boto3.session.Session(**CREDENTIALS)
    dry = Provisioner(session, endpoint_url="http://127.0.0.1:9", dry_run=True)
    plan = ensure(dry)
    assert [(r.kind, r.status) for r in plan.resources] == [
        ("tenant", "planned"),
        ("tenant-resource", "planned"),
        ("tenant-resource", "planned"),
        ("tenant-resource", "planned"),
        ("tenant-reputation-policy", "planned"),
        ("tenant-suppression", "planned"),
    ]
    assert plan.associations[0].arn == f"{BASE}:configuration-set/acme-events"
    assert plan.reputation_policy.arn == STRICT
    assert plan.suppression.details == {"scope": "TENANT", "reasons": ["BOUNCE", "COMPLAINT"]}
    assert plan.tenant.details == {"tags": {"customer": "acme"}}


def test_teardown_deletes_the_tenant_it_created_and_only_that(fake: FakeSes) -> None:
    p = provisioner(fake)
    made = ensure(p)
    found = ensure(p, templates=["welcome", "extra"])
    # a second run's new association goes on its own; the tenant (found, not created) stays
    assert [r.name for r in p.teardown(found.resources)] == [f"{BASE}:template/extra"]
    assert f"{BASE}:template/extra" not in (fake.tenants["acme"].resources or set())
    assert "acme" in fake.tenants
    deleted = p.teardown(made.resources)
    assert {r.kind for r in deleted} == {"tenant", "tenant-resource"}
    assert "acme" not in fake.tenants
    # associations went with their tenant: one DeleteTenant, no DeleteTenantResourceAssociation for them
    assert len(fake.calls_of("DeleteTenant")) == 1
    assert len(fake.calls_of("DeleteTenantResourceAssociation")) == 1


def test_bad_input_is_refused_before_any_call(fake: FakeSes) -> None:
    p = provisioner(fake)
    with pytest.raises(ValidationError, match="tenant name"):
        p.ensure_tenant("not a tenant!")
    with pytest.raises(ValidationError, match="configuration set"):
        p.ensure_tenant("acme", configuration_sets=["bad set"])
    with pytest.raises(ValueError, match="reputation_policy"):
        p.ensure_tenant("acme", reputation_policy="lenient")
    with pytest.raises(ValueError, match="suppression_scope"):
        p.ensure_tenant("acme", suppression_scope="GLOBAL")
    with pytest.raises(ValidationError, match="'BOUNCE' or 'COMPLAINT'"):
        p.ensure_tenant("acme", suppression_scope="TENANT", suppressed_reasons=["spam"])
    assert fake.calls == []
    fake.fail("CreateTenant", "LimitExceededException", "Too many tenants.")
    with pytest.raises(ProvisioningError) as caught:
        p.ensure_tenant("acme")
    assert caught.value.code == "LimitExceededException"


def test_a_provisioned_tenant_can_send_and_an_unassociated_identity_cannot(fake: FakeSes) -> None:
    ensure(provisioner(fake))
    client = SesClient(
        "acme-events", tenant="acme", endpoint_url=fake.endpoint_url, max_send_rate=None, **CLIENT_CREDENTIALS
    )
    result = client.send(Email("news@acme.example.com", "jane@example.com", subject="Hi", text="Hello"))
    assert result.tenant == "acme"
    with pytest.raises(TenantNotAssociated):
        client.send(Email("news@other.example.com", "jane@example.com", subject="Hi", text="Hello"))


def test_tenant_policies_use_the_documented_condition_key_and_arns() -> None:
    sender = policies.sender_policy(
        "us-east-1",
        ACCOUNT,
        identities=["acme.example.com"],
        configuration_sets=["acme-events"],
        tenants=["acme"],
    )
    send, check = sender["Statement"][0], sender["Statement"][1]
    assert send["Condition"] == {"StringEquals": {"ses:TenantName": ["acme"]}}
    assert check == {
        "Sid": "CheckTenants",
        "Effect": "Allow",
        "Action": ["ses:GetTenant"],
        "Resource": [f"{BASE}:tenant/acme/*"],
    }
    both = policies.sender_policy(
        "us-east-1",
        ACCOUNT,
        identities=["acme.example.com"],
        configuration_sets=["acme-events"],
        from_addresses=["news@acme.example.com"],
        tenants=["acme", "globex"],
    )
    assert both["Statement"][0]["Condition"] == {
        "StringEquals": {"ses:FromAddress": ["news@acme.example.com"], "ses:TenantName": ["acme", "globex"]}
    }
    suppression = policies.tenant_suppression_policy("us-east-1", ACCOUNT, ["acme"])
    (statement,) = suppression["Statement"]
    assert statement["Resource"] == [f"{BASE}:tenant/acme/*"]
    assert "ses:PutTenantSuppressionAttributes" in statement["Action"]
    assert all(not a.endswith("*") for a in statement["Action"])
    assert (
        policies.reputation_policy_arn("eu-west-1", "none")
        == "arn:aws:ses:eu-west-1:aws:reputation-policy/none"
    )
    with pytest.raises(ValueError, match="tenant"):
        policies.tenant_suppression_policy("us-east-1", ACCOUNT, [])
