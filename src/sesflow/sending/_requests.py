"""The pure half of the API path: messages to SES request parameters, SES answers and errors to sesflow types.

No IO here. Operations are named by their boto3 method (``send_email``), so a transport runs a request as
``getattr(client, operation)(**params)``, sync or async alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

import attrs
import botocore.exceptions
import botocore.model

from .._text import one_line
from .errors import (
    AccessDenied,
    AccountSendingPaused,
    AccountSuspended,
    ConfigurationSetNotFound,
    ConfigurationSetSendingPaused,
    DailyQuotaExceeded,
    InvalidParameter,
    InvalidSendingPool,
    LimitExceeded,
    MailFromDomainNotVerified,
    MessageRejected,
    SendingPaused,
    SendOutcomeUnknown,
    SesApiError,
    SesError,
    TemplateNotFound,
    TenantNotAssociated,
    TenantNotFound,
    TenantSendingPaused,
    Throttled,
    TransientFailure,
    ValidationError,
)
from .message import Address, Destination, Email, Template
from .mime import build_mime, mime_bytes
from .results import BulkStatus, SuppressedAddress, TenantInfo, TenantSuppression
from .validation import MAX_MESSAGE_SIZE_V1, MAX_MESSAGE_SIZE_V2, check_message_size

__all__ = [
    "Api",
    "Request",
    "EntryOutcome",
    "send_request",
    "bulk_request",
    "describe_configuration_set_request",
    "get_tenant_request",
    "tenant_suppression_request",
    "parse_tenant",
    "unsupported_by_model",
    "quota_request",
    "parse_send_response",
    "parse_bulk_response",
    "parse_quota_response",
    "error_from_exception",
    "error_for_status",
    "service_name",
]

Api = Literal["v1", "v2"]
_CHARSET: Final = "UTF-8"


def service_name(api: Api) -> str:
    """The boto3 service name of an API version."""
    return "sesv2" if api == "v2" else "ses"


@attrs.frozen
class Request:
    """One SES API call: the boto3 method name and its keyword arguments.

    ``feature`` marks a call that needs a botocore model newer than sesflow's oldest supported one: the
    option it comes from and what it does (``("tenant", "sending for a tenant")``). The transports check
    such calls against their client's model before making them (``unsupported_by_model``).
    """

    operation: str
    params: dict[str, Any] = attrs.field(eq=False, repr=False)
    feature: tuple[str, str] | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class EntryOutcome:
    """One entry of a bulk answer."""

    status: BulkStatus
    message_id: str | None
    error_message: str | None
    raw_status: str


# ------------------------------------------------------------------------------------------------ requests


def _addresses(addresses: Sequence[Address]) -> list[str]:
    return [str(a) for a in addresses]


def _destination(
    to: Sequence[Address], cc: Sequence[Address], bcc: Sequence[Address]
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if to:
        out["ToAddresses"] = _addresses(to)
    if cc:
        out["CcAddresses"] = _addresses(cc)
    if bcc:
        out["BccAddresses"] = _addresses(bcc)
    return out


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in tags.items()]


def _header_list(headers: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in headers.items()]


def _common(params: dict[str, Any], configuration_set: str | None, tags: Mapping[str, str], api: Api) -> None:
    if configuration_set is not None:
        params["ConfigurationSetName"] = configuration_set
    if tags:
        params["EmailTags" if api == "v2" else "Tags"] = _tag_list(tags)


@attrs.frozen
class Routing:
    """On whose behalf and through which endpoint a v2 send goes: ``TenantName`` and ``EndpointId``."""

    tenant: str | None = None
    endpoint_id: str | None = None

    def apply(self, params: dict[str, Any]) -> None:
        """Add the parameters to a v2 send's ``params``."""
        if self.tenant is not None:
            params["TenantName"] = self.tenant
        if self.endpoint_id is not None:
            params["EndpointId"] = self.endpoint_id

    @property
    def feature(self) -> tuple[str, str] | None:
        """What a send with this routing needs of botocore's model (see ``Request``)."""
        if self.tenant is not None:
            return ("tenant", "sending for a tenant")
        if self.endpoint_id is not None:
            return ("endpoint_id", "sending through a global endpoint")
        return None


NO_ROUTING: Final = Routing()


def _v2_options(params: dict[str, Any], email: Email) -> None:
    """What every v2 ``SendEmail`` of ``email`` carries besides its content: feedback address, list."""
    if email.feedback_address is not None:
        params["FeedbackForwardingEmailAddress"] = email.feedback_address.ascii_email
    if email.list_management is not None:
        params["ListManagementOptions"] = email.list_management.options()


def send_request(
    email: Email,
    *,
    api: Api,
    configuration_set: str | None,
    tags: Mapping[str, str],
    routing: Routing = NO_ROUTING,
) -> Request:
    """The request that sends ``email`` with ``configuration_set`` and ``tags`` attached (and, v2 only, the
    tenant and global endpoint of ``routing``).

    Raises ``ValidationError`` for what the chosen API cannot carry (inline templates, template headers
    or list management on v1, a raw message over v1's 10 MB).
    """
    if email.list_management is not None and api == "v1":
        raise ValidationError(
            "list_management",
            "SES's list management needs the v2 API (the default): the v1 API has no such option",
        )
    if api == "v1" and routing != NO_ROUTING:
        raise ValidationError(routing.feature[0] if routing.feature else "api", "needs the v2 API")
    if email.template is not None:
        return _templated_request(
            email, email.template, api=api, configuration_set=configuration_set, tags=tags, routing=routing
        )
    if email.needs_raw:
        return _raw_request(email, api=api, configuration_set=configuration_set, tags=tags, routing=routing)
    limit = MAX_MESSAGE_SIZE_V2 if api == "v2" else MAX_MESSAGE_SIZE_V1
    check_message_size(email.estimated_size(), limit, api=api)
    message: dict[str, Any] = {"Subject": {"Data": email.subject or "", "Charset": _CHARSET}, "Body": {}}
    if email.text is not None:
        message["Body"]["Text"] = {"Data": email.text, "Charset": _CHARSET}
    if email.html is not None:
        message["Body"]["Html"] = {"Data": email.html, "Charset": _CHARSET}
    params: dict[str, Any]
    if api == "v2":
        params = {
            "FromEmailAddress": str(email.sender),
            "Destination": _destination(email.to, email.cc, email.bcc),
            "Content": {"Simple": message},
        }
        if email.reply_to:
            params["ReplyToAddresses"] = _addresses(email.reply_to)
        _v2_options(params, email)
        routing.apply(params)
    else:
        params = {
            "Source": str(email.sender),
            "Destination": _destination(email.to, email.cc, email.bcc),
            "Message": message,
        }
        if email.reply_to:
            params["ReplyToAddresses"] = _addresses(email.reply_to)
        if email.feedback_address is not None:
            params["ReturnPath"] = email.feedback_address.ascii_email
    _common(params, configuration_set, tags, api)
    return Request("send_email", params, routing.feature)


def _raw_request(
    email: Email, *, api: Api, configuration_set: str | None, tags: Mapping[str, str], routing: Routing
) -> Request:
    if api == "v1" and email.feedback_address is not None:
        raise ValidationError(
            "feedback_address", "the v1 API takes no return path for raw messages: use the v2 API or drop it"
        )
    limit = MAX_MESSAGE_SIZE_V2 if api == "v2" else MAX_MESSAGE_SIZE_V1
    # The attachments alone, base64-encoded, are a lower bound: refuse before building a message too big.
    check_message_size(sum(item.encoded_size for item in email.attachments), limit, api=api)
    data = mime_bytes(build_mime(email, configuration_set=configuration_set, tags=tags), limit=limit, api=api)
    params: dict[str, Any]
    if api == "v2":
        params = {
            "FromEmailAddress": str(email.sender),
            "Destination": _destination(email.to, email.cc, email.bcc),
            "Content": {"Raw": {"Data": data}},
        }
        _v2_options(params, email)
        routing.apply(params)
        _common(params, configuration_set, tags, api)
        return Request("send_email", params, routing.feature)
    params = {
        "Source": str(email.sender),
        "Destinations": list(email.recipients),
        "RawMessage": {"Data": data},
    }
    _common(params, configuration_set, tags, api)
    return Request("send_raw_email", params)


def _v2_template(template: Template, headers: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if template.name is not None:
        out["TemplateName"] = template.name
    else:
        content: dict[str, str] = {"Subject": template.subject or ""}
        if template.text is not None:
            content["Text"] = template.text
        if template.html is not None:
            content["Html"] = template.html
        out["TemplateContent"] = content
    out["TemplateData"] = template.data_json
    if headers:
        out["Headers"] = _header_list(headers)
    return out


def _v1_template_name(template: Template, field: str) -> str:
    if template.name is None:
        raise ValidationError(
            field,
            "the v1 API sends only stored templates: create the template and send it by name, or use v2",
        )
    return template.name


def _templated_request(
    email: Email,
    template: Template,
    *,
    api: Api,
    configuration_set: str | None,
    tags: Mapping[str, str],
    routing: Routing,
) -> Request:
    headers = email.all_headers()
    params: dict[str, Any]
    if api == "v2":
        params = {
            "FromEmailAddress": str(email.sender),
            "Destination": _destination(email.to, email.cc, email.bcc),
            "Content": {"Template": _v2_template(template, headers)},
        }
        if email.reply_to:
            params["ReplyToAddresses"] = _addresses(email.reply_to)
        _v2_options(params, email)
        routing.apply(params)
        _common(params, configuration_set, tags, api)
        return Request("send_email", params, routing.feature)
    if headers:
        raise ValidationError(
            "headers", "the v1 API cannot add headers to templated messages: use the v2 API (the default)"
        )
    params = {
        "Source": str(email.sender),
        "Destination": _destination(email.to, email.cc, email.bcc),
        "Template": _v1_template_name(template, "template"),
        "TemplateData": template.data_json,
    }
    if email.reply_to:
        params["ReplyToAddresses"] = _addresses(email.reply_to)
    if email.feedback_address is not None:
        params["ReturnPath"] = email.feedback_address.ascii_email
    _common(params, configuration_set, tags, api)
    return Request("send_templated_email", params)


def bulk_request(
    template: Template,
    destinations: Sequence[Destination],
    *,
    api: Api,
    sender: Address,
    reply_to: Sequence[Address],
    feedback_address: Address | None,
    configuration_set: str | None,
    tags: Mapping[str, str],
    routing: Routing = NO_ROUTING,
) -> Request:
    """One bulk call for ``destinations`` (at most 50), in order."""
    params: dict[str, Any]
    if api == "v2":
        entries = []
        for destination in destinations:
            entry: dict[str, Any] = {
                "Destination": _destination(destination.to, destination.cc, destination.bcc)
            }
            if destination.tags:
                entry["ReplacementTags"] = _tag_list(destination.tags)
            if destination.data is not None:
                entry["ReplacementEmailContent"] = {
                    "ReplacementTemplate": {"ReplacementTemplateData": destination.data_json}
                }
            headers = destination.all_headers()
            if headers:
                entry["ReplacementHeaders"] = _header_list(headers)
            entries.append(entry)
        params = {
            "FromEmailAddress": str(sender),
            "DefaultContent": {"Template": _v2_template(template, {})},
            "BulkEmailEntries": entries,
        }
        if reply_to:
            params["ReplyToAddresses"] = _addresses(reply_to)
        if feedback_address is not None:
            params["FeedbackForwardingEmailAddress"] = feedback_address.ascii_email
        if configuration_set is not None:
            params["ConfigurationSetName"] = configuration_set
        if tags:
            params["DefaultEmailTags"] = _tag_list(tags)
        routing.apply(params)
        return Request("send_bulk_email", params, routing.feature)
    if routing != NO_ROUTING:
        raise ValidationError(routing.feature[0] if routing.feature else "api", "needs the v2 API")
    v1_entries = []
    for index, destination in enumerate(destinations):
        if destination.all_headers():
            raise ValidationError(
                f"destinations[{index}].headers",
                "the v1 API cannot add headers to bulk messages: use the v2 API (the default)",
            )
        v1_entry: dict[str, Any] = {
            "Destination": _destination(destination.to, destination.cc, destination.bcc)
        }
        if destination.tags:
            v1_entry["ReplacementTags"] = _tag_list(destination.tags)
        if destination.data is not None:
            v1_entry["ReplacementTemplateData"] = destination.data_json
        v1_entries.append(v1_entry)
    params = {
        "Source": str(sender),
        "Template": _v1_template_name(template, "template"),
        "DefaultTemplateData": template.data_json,
        "Destinations": v1_entries,
    }
    if reply_to:
        params["ReplyToAddresses"] = _addresses(reply_to)
    if feedback_address is not None:
        params["ReturnPath"] = feedback_address.ascii_email
    if configuration_set is not None:
        params["ConfigurationSetName"] = configuration_set
    if tags:
        params["DefaultTags"] = _tag_list(tags)
    return Request("send_bulk_templated_email", params)


def describe_configuration_set_request(name: str, api: Api) -> Request:
    """The call that checks that configuration set ``name`` exists."""
    operation = "get_configuration_set" if api == "v2" else "describe_configuration_set"
    return Request(operation, {"ConfigurationSetName": name})


def quota_request(api: Api) -> Request:
    """The call that reads the account's sending quota."""
    return Request("get_account" if api == "v2" else "get_send_quota", {})


SUPPRESSION_REASONS: Final = ("BOUNCE", "COMPLAINT")


def suppression_reason(reason: str) -> str:
    """``reason`` in SES's spelling (``"bounce"`` gives ``"BOUNCE"``); ValidationError for anything else."""
    spelled = reason.upper() if isinstance(reason, str) else reason
    if spelled not in SUPPRESSION_REASONS:
        raise ValidationError("reason", f"a suppression reason is 'BOUNCE' or 'COMPLAINT', not {reason!r}")
    return spelled


_TENANT_SUPPRESSION: Final = ("tenant", "tenant-level suppression")


def suppression_request(
    operation: str, address: str, reason: str | None = None, *, tenant: str | None = None
) -> Request:
    """``get_``, ``put_`` or ``delete_suppressed_destination`` for ``address`` (v2 API), on ``tenant``'s list
    when one is named, else the account's."""
    params = {"EmailAddress": address}
    if reason is not None:
        params["Reason"] = reason
    if tenant is None:
        return Request(f"{operation}_suppressed_destination", params)
    params["TenantName"] = tenant
    return Request(f"{operation}_suppressed_destination", params, _TENANT_SUPPRESSION)


def list_suppressed_request(
    reasons: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    token: str | None,
    *,
    tenant: str | None = None,
) -> Request:
    """One page of ``ListSuppressedDestinations`` (v2 API), of ``tenant``'s list when one is named."""
    params: dict[str, Any] = {"PageSize": 1000}
    if reasons:
        params["Reasons"] = list(reasons)
    if since is not None:
        params["StartDate"] = since
    if until is not None:
        params["EndDate"] = until
    if token is not None:
        params["NextToken"] = token
    if tenant is None:
        return Request("list_suppressed_destinations", params)
    params["TenantName"] = tenant
    return Request("list_suppressed_destinations", params, _TENANT_SUPPRESSION)


def parse_suppressed(item: Mapping[str, Any], tenant: str | None = None) -> SuppressedAddress:
    """A ``SuppressedDestination`` or one of ``SuppressedDestinationSummaries`` (of ``tenant``'s list)."""
    attributes = item.get("Attributes") or {}
    updated = item["LastUpdateTime"]
    if not isinstance(updated, datetime):  # botocore gives datetimes; a raw answer gives epoch seconds
        updated = datetime.fromtimestamp(float(updated), UTC)
    return SuppressedAddress(
        email_address=str(item["EmailAddress"]),
        reason=str(item["Reason"]),
        last_update_time=updated,
        message_id=attributes.get("MessageId"),
        feedback_id=attributes.get("FeedbackId"),
        tenant=item.get("TenantName") or tenant,
    )


SUPPRESSION_SCOPES: Final = ("TENANT", "ACCOUNT")


def get_tenant_request(name: str) -> Request:
    """``GetTenant``: whether tenant ``name`` exists, and what SES knows of it."""
    return Request("get_tenant", {"TenantName": name}, ("tenant", "tenants"))


def tenant_suppression_request(name: str, scope: str, reasons: Sequence[str]) -> Request:
    """``PutTenantSuppressionAttributes``: which list tenant ``name`` uses and why SES adds to it."""
    spelled = scope.upper() if isinstance(scope, str) else scope
    if spelled not in SUPPRESSION_SCOPES:
        raise ValidationError("scope", f"a suppression scope is 'TENANT' or 'ACCOUNT', not {scope!r}")
    params = {
        "TenantName": name,
        "SuppressionScope": spelled,
        "SuppressedReasons": list(dict.fromkeys(suppression_reason(r) for r in reasons)),
    }
    return Request("put_tenant_suppression_attributes", params, _TENANT_SUPPRESSION)


def parse_tenant(response: Mapping[str, Any]) -> TenantInfo:
    """The ``TenantInfo`` of a ``GetTenant`` answer."""
    tenant = response.get("Tenant") or {}
    raw_suppression = tenant.get("SuppressionAttributes")
    suppression = None
    if raw_suppression is not None:
        suppression = TenantSuppression(
            scope=str(raw_suppression.get("SuppressionScope") or "ACCOUNT"),
            reasons=tuple(str(r) for r in raw_suppression.get("SuppressedReasons") or ()),
        )
    created = tenant.get("CreatedTimestamp")
    if created is not None and not isinstance(created, datetime):
        created = datetime.fromtimestamp(float(created), UTC)
    return TenantInfo(
        name=str(tenant.get("TenantName", "")),
        tenant_id=tenant.get("TenantId"),
        arn=tenant.get("TenantArn"),
        created=created,
        sending_status=tenant.get("SendingStatus"),
        suppression=suppression,
        tags={str(t["Key"]): str(t.get("Value", "")) for t in tenant.get("Tags") or ()},
    )


def unsupported_by_model(request: Request, client: Any) -> ValidationError | None:
    """The error to raise when ``client``'s botocore model cannot carry ``request`` (its operation or one of
    its parameters is newer than the installed botocore); None when it can, or ``request`` needs nothing new.

    Raised before the call, this says what to upgrade instead of botocore's "Unknown parameter" or a missing
    method; nothing is sent.
    """
    meta = getattr(client, "meta", None)
    if request.feature is None or meta is None:
        return None
    missing: str | None = None
    try:
        operation = meta.service_model.operation_model(meta.method_to_api_mapping[request.operation])
    except (KeyError, botocore.model.OperationNotFoundError):
        missing = request.operation
    else:
        members = operation.input_shape.members if operation.input_shape is not None else {}
        missing = next((key for key in request.params if key not in members), None)
    if missing is None:
        return None
    field, what = request.feature
    return ValidationError(
        field,
        f"{what} needs a newer botocore than the installed {botocore.__version__}, whose SES model has no "
        f"{missing}: upgrade boto3/botocore (and aiobotocore; aioboto3 15.5 holds botocore at 1.40.61)",
    )


# ------------------------------------------------------------------------------------------------ answers


def _request_id(response: Mapping[str, Any]) -> str | None:
    metadata = response.get("ResponseMetadata") or {}
    value = metadata.get("RequestId")
    return str(value) if value else None


def parse_send_response(response: Mapping[str, Any]) -> tuple[str, str | None]:
    """``(message_id, request_id)`` of a send's answer."""
    return str(response["MessageId"]), _request_id(response)


def parse_bulk_response(response: Mapping[str, Any], api: Api) -> tuple[list[EntryOutcome], str | None]:
    """The entries of a bulk answer, in request order, and the request id."""
    raw_entries = response.get("BulkEmailEntryResults" if api == "v2" else "Status") or []
    out = []
    for raw in raw_entries:
        message_id = raw.get("MessageId")
        raw_status = raw.get("Status")
        if raw_status is None:
            # moto's v1 answer carries a MessageId and no Status; real SES always sends both.
            raw_status = "SUCCESS" if message_id else "FAILED"
        out.append(
            EntryOutcome(
                status=BulkStatus.from_ses(str(raw_status)),
                message_id=str(message_id) if message_id else None,
                error_message=raw.get("Error"),
                raw_status=str(raw_status),
            )
        )
    return out, _request_id(response)


def parse_quota_response(response: Mapping[str, Any], api: Api) -> tuple[float, float]:
    """``(max_send_rate, max_24_hour_send)`` from the account's quota."""
    quota = response.get("SendQuota", {}) if api == "v2" else response
    return float(quota["MaxSendRate"]), float(quota["Max24HourSend"])


# ------------------------------------------------------------------------------------------------ errors

_BY_CODE: Final[Mapping[str, type[SesError]]] = {
    "MessageRejected": MessageRejected,
    "MailFromDomainNotVerifiedException": MailFromDomainNotVerified,
    "MailFromDomainNotVerified": MailFromDomainNotVerified,
    "ConfigurationSetDoesNotExist": ConfigurationSetNotFound,
    "ConfigurationSetDoesNotExistException": ConfigurationSetNotFound,
    "TemplateDoesNotExist": TemplateNotFound,
    "TemplateDoesNotExistException": TemplateNotFound,
    "ConfigurationSetSendingPausedException": ConfigurationSetSendingPaused,
    "AccountSendingPausedException": AccountSendingPaused,
    "SendingPausedException": SendingPaused,
    "AccountSuspendedException": AccountSuspended,
    "Throttling": Throttled,
    "ThrottlingException": Throttled,
    "TooManyRequestsException": Throttled,
    "LimitExceededException": LimitExceeded,
    "InvalidParameterValue": InvalidParameter,
    "InvalidParameterCombination": InvalidParameter,
    "ValidationError": InvalidParameter,
    "BadRequestException": InvalidParameter,
    "AccessDenied": AccessDenied,
    "AccessDeniedException": AccessDenied,
    "NotAuthorized": AccessDenied,
    "UnrecognizedClientException": AccessDenied,
    "InvalidClientTokenId": AccessDenied,
    "SignatureDoesNotMatch": AccessDenied,
    "InternalFailure": TransientFailure,
    "InternalServerError": TransientFailure,
    "ServiceUnavailable": TransientFailure,
    "ServiceUnavailableException": TransientFailure,
}

_BY_STATUS: Final[Mapping[str, type[SesError]]] = {
    BulkStatus.MESSAGE_REJECTED: MessageRejected,
    BulkStatus.MAIL_FROM_DOMAIN_NOT_VERIFIED: MailFromDomainNotVerified,
    BulkStatus.CONFIGURATION_SET_NOT_FOUND: ConfigurationSetNotFound,
    BulkStatus.TEMPLATE_NOT_FOUND: TemplateNotFound,
    BulkStatus.ACCOUNT_SUSPENDED: AccountSuspended,
    BulkStatus.ACCOUNT_THROTTLED: Throttled,
    BulkStatus.ACCOUNT_DAILY_QUOTA_EXCEEDED: DailyQuotaExceeded,
    BulkStatus.INVALID_SENDING_POOL_NAME: InvalidSendingPool,
    BulkStatus.ACCOUNT_SENDING_PAUSED: AccountSendingPaused,
    BulkStatus.CONFIGURATION_SET_SENDING_PAUSED: ConfigurationSetSendingPaused,
    BulkStatus.INVALID_PARAMETER: InvalidParameter,
    BulkStatus.TRANSIENT_FAILURE: TransientFailure,
}


def _tenant_error(code: str, text: str) -> type[SesError] | None:
    """The tenant error a refusal's words describe, if any.

    AWS documents no error code of its own for a tenant's refusals: SendEmail's errors in the API model are
    the account-wide ones (``NotFoundException``, ``BadRequestException``, ``MessageRejected``,
    ``SendingPausedException``...). So a refusal is a tenant's when SES's message names the tenant problem.
    """
    if "tenant" not in text:
        return None
    if "associat" in text:
        return TenantNotAssociated
    if code == "SendingPausedException" or "paused" in text or "disabled" in text:
        return TenantSendingPaused
    if code == "NotFoundException" or "does not exist" in text or "not found" in text:
        return TenantNotFound
    return None


def _classify(code: str, message: str, http_status: int | None) -> type[SesError]:
    text = message.lower()
    tenant_error = _tenant_error(code, text)
    if tenant_error is not None:
        return tenant_error
    if "daily message quota" in text or ("daily" in text and "quota" in text):
        return DailyQuotaExceeded
    if code in ("NotFoundException", "BadRequestException") and "configuration set" in text:
        return ConfigurationSetNotFound
    if code == "NotFoundException" and "template" in text:
        return TemplateNotFound
    if code == "SendingPausedException":
        if "configuration set" in text:
            return ConfigurationSetSendingPaused
        if "account" in text:
            return AccountSendingPaused
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls
    if http_status is not None and http_status >= 500:
        return TransientFailure
    return SesApiError


Describing = Literal["configuration_set", "tenant"]
_SET_MISSING: Final = ("NotFoundException", "ConfigurationSetDoesNotExist")


def error_from_exception(
    exc: BaseException,
    *,
    configuration_set: str | None,
    describing: Describing | None = None,
    tenant: str | None = None,
) -> SesError | None:
    """The sesflow error for what a boto3 / aiobotocore call raised; None if not an SES or transport error.

    ``describing`` names the existence check being made (of the configuration set, or of the tenant), where
    any "not found" means that one is missing.
    """
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "")) or "Unknown"
        message = one_line(str(error.get("Message", "")))
        metadata = exc.response.get("ResponseMetadata", {})
        http_status = metadata.get("HTTPStatusCode")
        request_id = metadata.get("RequestId") or None
        cls = _classify(code, message, http_status)
        if describing == "configuration_set" and code in _SET_MISSING:
            cls = ConfigurationSetNotFound
        elif describing == "tenant" and code == "NotFoundException":
            cls = TenantNotFound
        return cls(
            message,
            code=code,
            request_id=request_id,
            http_status=http_status,
            configuration_set=configuration_set,
            tenant=tenant,
        )
    if isinstance(exc, botocore.exceptions.ConnectionError):
        # The connection never opened (refused, DNS, TLS handshake, connect timeout): nothing was sent.
        return TransientFailure(
            str(exc), code=type(exc).__name__, configuration_set=configuration_set, tenant=tenant
        )
    if isinstance(exc, botocore.exceptions.HTTPClientError):
        # The request may have reached SES (read timeout, connection dropped mid-answer).
        return SendOutcomeUnknown(
            str(exc), code=type(exc).__name__, configuration_set=configuration_set, tenant=tenant
        )
    return None


def error_for_status(
    outcome: EntryOutcome,
    *,
    configuration_set: str | None,
    request_id: str | None,
    tenant: str | None = None,
) -> SesError | None:
    """The error for a bulk entry's status, or None for SUCCESS."""
    if outcome.status == BulkStatus.SUCCESS:
        return None
    cls = _BY_STATUS.get(outcome.status, SesApiError)
    if tenant is not None:  # bulk statuses have no tenant values: SES's words say when it is the tenant
        cls = _tenant_error(outcome.raw_status, (outcome.error_message or "").lower()) or cls
    return cls(
        outcome.error_message or "",
        code=outcome.raw_status,
        request_id=request_id,
        configuration_set=configuration_set,
        tenant=tenant,
    )
