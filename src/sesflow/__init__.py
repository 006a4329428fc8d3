"""sesflow: send email through Amazon SES with a configuration set always attached, and know what happened.

The public surface is re-exported here; see the documentation for the layers behind it.
"""

from .errors import MissingExtra, ParseError, SesflowError
from .events import EventType, SesEvent, parse_event, to_dict

__version__ = "0.1.0"

__all__ = [
    "EventType",
    "MissingExtra",
    "ParseError",
    "SesEvent",
    "SesflowError",
    "__version__",
    "parse_event",
    "to_dict",
]
