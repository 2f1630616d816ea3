"""The package's two loggers, ``minialchemy.engine`` (every SQL statement, with why it was sent)
and ``minialchemy.orm`` (the ORM's warnings), made when they are first needed.

Importing :mod:`logging` costs more than a quarter of ``import minialchemy.orm`` (it imports
``traceback``, ``threading``, ``string`` ...), and most programs never log: so this module does
not import it.  The question asked before every statement, "would an INFO record of this logger
be handled?", is answered without importing it: while nothing has imported :mod:`logging`, no
handler can exist and no level can have been lowered from the root logger's WARNING, so the
answer is no.  Once anything imports it (the application configuring logging, ``echo=True``,
pytest's log capture), the real logger answers.  A WARNING is different: with no handler
configured, :mod:`logging` still prints it (its "last resort" handler), so :func:`get_logger`,
which imports :mod:`logging`, is what a warning goes through.

Where it sits: the engine logs each statement (``engine/base.py``, ``insertmanyvalues.py``); the
ORM logs its warnings and asks whether the SQL is being echoed (``orm/persistence.py``,
``orm/n_plus_one.py``).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (type checkers know the name)
if TYPE_CHECKING:
    import logging

__all__ = ["ENGINE", "ORM", "get_logger", "info_enabled", "logger_with_handlers"]

#: the logger of the SQL statements (``echo=True`` prints it)
ENGINE = "minialchemy.engine"
#: the logger of the ORM's warnings
ORM = "minialchemy.orm"
#: logging.INFO, without importing logging
_INFO = 20

_loggers: dict[str, logging.Logger] = {}


def get_logger(name: str) -> logging.Logger:
    """The logger ``name`` (``logging.getLogger(name)``), importing :mod:`logging` if needed."""
    logger = _loggers.get(name)
    if logger is None:
        import logging

        logger = _loggers[name] = logging.getLogger(name)
    return logger


def _existing_logger(name: str) -> logging.Logger | None:
    """The logger ``name`` if :mod:`logging` has been imported by anyone, else None."""
    logger = _loggers.get(name)
    if logger is None and "logging" in sys.modules:
        logger = get_logger(name)
    return logger


def info_enabled(name: str) -> bool:
    """Whether an INFO record of logger ``name`` would be handled (``isEnabledFor(INFO)``);
    False, without importing :mod:`logging`, while nothing has imported it."""
    logger = _existing_logger(name)
    return logger is not None and logger.isEnabledFor(_INFO)


def logger_with_handlers(name: str) -> logging.Logger | None:
    """Logger ``name`` if logging is set up for it (``hasHandlers()``), else None."""
    logger = _existing_logger(name)
    return logger if logger is not None and logger.hasHandlers() else None
