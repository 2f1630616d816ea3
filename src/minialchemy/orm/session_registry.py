"""The registry of live sessions by id: how an object's state finds its Session.

An :class:`~minialchemy.orm.instrumentation.InstanceState` names its session by a number
(``state.session_id``), so that objects never keep their session alive.  ``state.session``
looks that number up here; every :class:`~minialchemy.orm.session.Session` registers itself
when it is created, and leaves when it is garbage-collected (a weak-value map,
:class:`~minialchemy.orm.weakmaps.WeakValueMap`).

It is a module of its own so that the instrumentation twins can reach sessions without
importing the session module, which sits above them.
"""

from __future__ import annotations

import itertools

from minialchemy.orm.weakmaps import WeakValueMap

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:  # typing is imported by type checkers only: it costs more than the package (issue 12)
    from typing import Any

__all__ = ["sessions", "next_session_id"]

#: live sessions by id
sessions: "WeakValueMap" = WeakValueMap()

#: ``next(next_session_id)``: a new session's id (1, 2, 3, ...)
next_session_id = itertools.count(1)
