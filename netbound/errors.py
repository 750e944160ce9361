"""The exceptions netbound raises for anything a user can get wrong.

Each is a :class:`NetboundError`; those about a wrong value are also ``ValueError`` (as numpy's
and scipy's are), so ``except ValueError`` catches them in code that does not know netbound.
"""

from __future__ import annotations


class NetboundError(Exception):
    """Base class of every error netbound reports to a user."""


class NetworkError(NetboundError, ValueError):
    """A network is inconsistent: shapes that do not chain, non-finite weights, bad names."""


class NetworkFileError(NetworkError):
    """A network file is unreadable, malformed or inconsistent."""


class ProbeMismatchError(NetworkFileError):
    """A network file's probe does not reproduce its stated outputs."""


class DataError(NetboundError, ValueError):
    """Input data (sweep values, expected CSV) is malformed."""


class OptionError(NetboundError, ValueError):
    """Options are inconsistent with the network (unknown output, missing input value, ...).

    The message names the library's parameter (``x1_range=(1.0, 0.0): needs lo < hi``);
    ``cli``, when given, says the same in terms of the command line's flags.
    """

    def __init__(self, message: str, *, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli = cli


class MissingExtraError(NetboundError):
    """An optional dependency needed for this feature is not installed."""
