"""The exceptions netbound raises for anything a user can get wrong."""

from __future__ import annotations


class NetboundError(Exception):
    """Base class of every error netbound reports to a user."""


class NetworkFileError(NetboundError):
    """A network file is unreadable, malformed or inconsistent."""


class ProbeMismatchError(NetworkFileError):
    """A network file's probe does not reproduce its stated outputs."""


class DataError(NetboundError):
    """Input data (sweep values, expected CSV) is malformed."""


class OptionError(NetboundError):
    """Options are inconsistent with the network (unknown output, missing input value, ...)."""


class MissingExtraError(NetboundError):
    """An optional dependency needed for this feature is not installed."""
