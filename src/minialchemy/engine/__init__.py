"""Engine, connections, transactions and results over the stdlib ``sqlite3`` driver."""

from minialchemy.engine.base import Connection, Engine, Transaction, create_engine
from minialchemy.engine.result import CursorResult, Result, Row, RowMapping, ScalarResult

__all__ = [
    "Connection",
    "Engine",
    "Transaction",
    "create_engine",
    "CursorResult",
    "Result",
    "Row",
    "RowMapping",
    "ScalarResult",
]
