"""The public names: which ones ``sesflow`` exports, and where each public class and function says it lives.

One name, one public home: ``sesflow`` for the few names it re-exports (``TOP_LEVEL``), otherwise the
public package that exports it (``sesflow.events``, ``sesflow.routing``...). ``publish`` writes that home
into ``__module__`` (as httpx does), so that a repr, a traceback or ``help()`` shows ``sesflow.SqsConsumer``
instead of the private module that happens to define it. Standard library only: every layer imports this.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = ["TOP_LEVEL", "LazyNames", "publish"]

TOP_LEVEL: Final[Mapping[str, tuple[str, ...]]] = {
    "errors": ("MissingExtra", "ParseError", "SesflowError", "SnsVerificationError", "SourceError"),
    "events": ("EventType", "SesEvent", "parse_event", "to_dict"),
    "routing": ("EventRouter", "DispatchResult", "DispatchError"),
    "sources": ("SnsVerifier", "SourceItem"),
    "consumers": ("SqsConsumer", "AsyncSqsConsumer"),
    "sending": (
        "Email",
        "Address",
        "Attachment",
        "Template",
        "Destination",
        "ListManagement",
        "ListUnsubscribe",
        "SesClient",
        "AsyncSesClient",
        "SendResult",
        "BulkResult",
        "BulkStatus",
        "RetryPolicy",
        "SendingError",
        "ValidationError",
        "ConfigurationSetRequired",
        "SesError",
        "MessageRejected",
        "MailFromDomainNotVerified",
        "ConfigurationSetNotFound",
        "TemplateNotFound",
        "TenantNotFound",
        "TenantNotAssociated",
        "TenantSendingPaused",
        "SendingPaused",
        "Throttled",
        "DailyQuotaExceeded",
        "AccountSuspended",
    ),
}
"""The names ``sesflow`` re-exports, by the module of ``sesflow`` each is imported from: the one table from
which ``sesflow.__all__`` and its lazy imports are made."""

_TOP_HOME: Final = {name: f"sesflow.{module}" for module, names in TOP_LEVEL.items() for name in names}


def publish(home: str, names: Iterable[str], namespace: Mapping[str, object]) -> None:
    """Make the classes and functions ``names`` (looked up in ``namespace``) report ``home`` as their module.

    ``home`` is the public module that exports them; a name that ``sesflow`` re-exports from there reports
    ``sesflow`` instead. Only what is defined in ``home`` or below it changes (a name re-exported from another
    package keeps the home that package gave it), and names not imported yet (lazy ones) are skipped: the
    module that defines them publishes them when it is imported.
    """
    for name in names:
        obj = namespace.get(name)
        if not (isinstance(obj, type) or inspect.isfunction(obj)):
            continue  # constants, type aliases and instances have no __module__ of their own
        module = obj.__module__
        if module != home and not module.startswith(home + "."):
            continue
        public = "sesflow" if _TOP_HOME.get(name) == home else home
        if module == public:
            continue
        if isinstance(obj, type):
            _resolve_annotations(obj)
        obj.__module__ = public


def _resolve_annotations(cls: type) -> None:
    """Replace ``cls``'s string annotations with the objects they name, while its module still resolves them.

    ``typing.get_type_hints`` (and attrs and cattrs through it) evaluates a class's string annotations in the
    namespace of ``cls.__module__``; once that names the public home, names imported only by the defining
    module would no longer resolve. Annotations that cannot be resolved even now are left as they are.
    """
    own = inspect.get_annotations(cls)
    if not own or not any(isinstance(value, str) for value in own.values()):
        return
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except Exception:  # e.g. a name imported only for type checking: nothing that worked to keep working
        return
    cls.__annotations__ = {name: hints.get(name, value) for name, value in own.items()}


class LazyNames:
    """The names of a package imported on first use (PEP 562), from one table: module -> names.

    The package sets ``__getattr__ = lazy.load`` and ``__dir__ = lazy.dir`` (outside ``TYPE_CHECKING``, so
    that a type checker sees only the package's own imports) and derives ``__all__`` from the table.
    """

    def __init__(self, package: str, table: Mapping[str, Iterable[str]]) -> None:
        self.package = package
        self.modules: dict[str, str] = {name: module for module, names in table.items() for name in names}

    @property
    def names(self) -> list[str]:
        return list(self.modules)

    def load(self, name: str) -> Any:
        module = self.modules.get(name)
        if module is None:
            raise AttributeError(f"module {self.package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", self.package), name)
        vars(sys.modules[self.package])[name] = value  # later lookups do not come back here
        return value

    def dir(self) -> list[str]:
        return sorted(set(vars(sys.modules[self.package])) | set(self.modules))
