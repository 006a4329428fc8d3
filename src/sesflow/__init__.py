"""sesflow: send email through Amazon SES with a configuration set always attached, and know what happened.

The public surface is re-exported here; ``sesflow._public.TOP_LEVEL`` lists it, by the module each name
comes from. Parsing (``parse_event``) imports only the event models; the sending clients, the router, the
consumers and ``SnsVerifier`` are imported on first use, so a Lambda that only parses events does not pay for
boto3 or cryptography at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._public import TOP_LEVEL, LazyNames

# Imported now: the errors and the event models (what parsing needs). ``X as X`` marks a re-export for mypy.
from .errors import MissingExtra as MissingExtra
from .errors import ParseError as ParseError
from .errors import SesflowError as SesflowError
from .errors import SnsVerificationError as SnsVerificationError
from .errors import SourceError as SourceError
from .events import EventType as EventType
from .events import SesEvent as SesEvent
from .events import parse_event as parse_event
from .events import to_dict as to_dict

if TYPE_CHECKING:  # the rest, imported on first use (see __getattr__ below); mypy needs them written out
    from .consumers import AsyncSqsConsumer as AsyncSqsConsumer
    from .consumers import SqsConsumer as SqsConsumer
    from .routing import DispatchError as DispatchError
    from .routing import DispatchResult as DispatchResult
    from .routing import EventRouter as EventRouter
    from .sending import AccountSuspended as AccountSuspended
    from .sending import Address as Address
    from .sending import AsyncSesClient as AsyncSesClient
    from .sending import Attachment as Attachment
    from .sending import BulkResult as BulkResult
    from .sending import BulkStatus as BulkStatus
    from .sending import ConfigurationSetNotFound as ConfigurationSetNotFound
    from .sending import ConfigurationSetRequired as ConfigurationSetRequired
    from .sending import DailyQuotaExceeded as DailyQuotaExceeded
    from .sending import Destination as Destination
    from .sending import Email as Email
    from .sending import ListManagement as ListManagement
    from .sending import ListUnsubscribe as ListUnsubscribe
    from .sending import MailFromDomainNotVerified as MailFromDomainNotVerified
    from .sending import MessageRejected as MessageRejected
    from .sending import RetryPolicy as RetryPolicy
    from .sending import SendingError as SendingError
    from .sending import SendingPaused as SendingPaused
    from .sending import SendResult as SendResult
    from .sending import SesClient as SesClient
    from .sending import SesError as SesError
    from .sending import Template as Template
    from .sending import TemplateNotFound as TemplateNotFound
    from .sending import TenantNotAssociated as TenantNotAssociated
    from .sending import TenantNotFound as TenantNotFound
    from .sending import TenantSendingPaused as TenantSendingPaused
    from .sending import Throttled as Throttled
    from .sending import ValidationError as ValidationError
    from .sources import SnsVerifier as SnsVerifier
    from .sources import SourceItem as SourceItem

__version__ = "0.1.0"

_EAGER = ("errors", "events")
_lazy = LazyNames(__name__, {module: names for module, names in TOP_LEVEL.items() if module not in _EAGER})

__all__ = sorted([*(name for names in TOP_LEVEL.values() for name in names), "__version__"])

if not TYPE_CHECKING:  # PEP 562; hidden from mypy so that a name missing above is an error, not Any
    __getattr__ = _lazy.load
    __dir__ = _lazy.dir
