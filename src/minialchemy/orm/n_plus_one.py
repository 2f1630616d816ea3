"""The N+1 problem, made visible.

Reading ``user.addresses`` for each user of a list sends one SELECT per user, after the one
SELECT that loaded the users: 1 + N statements where 2 would do
(``select(User).options(selectinload(User.addresses))``).  Each statement is cheap, so the cost
hides until N is large.  This module counts, per session, the lazy loads of each relationship
and the different objects they were for:

- every lazy load's line in the echo log carries its relationship and running count
  (``lazy load of User.addresses #3``);
- when the same relationship has been lazy loaded for ``n_plus_one_threshold`` different
  parents (10 unless set), one :class:`~minialchemy.exc.NPlusOneWarning` is issued, through
  :mod:`warnings` and (where logging is configured, so that it is not printed twice) the
  ``minialchemy.orm`` logger, naming the relationship, the count and the loader option that
  replaces those SELECTs with one.

``Session(engine, n_plus_one_threshold=None)`` (or ``create_engine(..., n_plus_one_threshold=None)``
for every session of an engine) turns the warning off; the counts in the log stay.

Where it sits: one :class:`LazyLoadCounter` per session, told by ``Session._lazy_load`` each time
a lazy load is about to send SQL.
"""

from __future__ import annotations

import sys

from minialchemy.engine import log
from minialchemy.exc import NPlusOneWarning

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any

__all__ = ["DEFAULT_N_PLUS_ONE_THRESHOLD", "LazyLoadCounter"]


#: lazy loads of one relationship, for as many different parents, before the warning
DEFAULT_N_PLUS_ONE_THRESHOLD = 10


class LazyLoadCounter:
    """Per relationship: how many lazy loads were sent, and for which parents."""

    __slots__ = ("threshold", "loads", "parents", "warned")

    def __init__(self, threshold: int | None) -> None:
        self.threshold = threshold
        #: relationship -> number of lazy loads sent
        self.loads: dict[Any, int] = {}
        #: relationship -> identity keys of the parents they were sent for
        self.parents: dict[Any, set[Any]] = {}
        #: relationships already warned about (one warning each per session)
        self.warned: set[Any] = set()

    def count(self, prop: Any, parent_key: Any) -> str:
        """Record one lazy load of ``prop`` for the parent with identity key ``parent_key``;
        return the cause the echo log shows for it (and warn once at the threshold)."""
        number = self.loads.get(prop, 0) + 1
        self.loads[prop] = number
        parents = self.parents.get(prop)
        if parents is None:
            parents = self.parents[prop] = set()
        parents.add(parent_key)
        name = f"{prop.parent.class_.__name__}.{prop.key}"
        threshold = self.threshold
        if threshold and len(parents) >= threshold and prop not in self.warned:
            self.warned.add(prop)
            self._warn(prop, name, len(parents))
        return f"lazy load of {name} #{number}"

    def _warn(self, prop: Any, name: str, parents: int) -> None:
        message = (
            f"N+1 queries: {name} was lazy loaded for {parents} different "
            f"{prop.parent.class_.__name__} objects, one SELECT each; load them all with one more "
            f"SELECT: .options(selectinload({name})) (Session(n_plus_one_threshold=None): no warning)"
        )
        logger = log.logger_with_handlers(log.ORM)
        if logger is not None:  # logging is set up: the warning goes to the log as well
            logger.warning(message)
        import warnings  # deferred: only a warning needs it (import time, issue 12)

        warnings.warn(message, NPlusOneWarning, stacklevel=_user_stacklevel())

    def reset(self) -> None:
        self.loads.clear()
        self.parents.clear()
        self.warned.clear()


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points the warning at the user's line that read the attribute
    (the first frame outside minialchemy), however deep inside the ORM the lazy load ran."""
    level = 1
    frame = sys._getframe(1)
    package = __name__.split(".")[0]
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == package:
        frame = frame.f_back
        level += 1
    return level
