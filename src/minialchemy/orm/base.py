"""``Mapped[T]``: the annotation of a mapped attribute, typed the way SQLAlchemy 2.x types it.

At run time ``Mapped`` is only a marker that declarative reads (``name: Mapped[str]`` is a NOT
NULL VARCHAR column); the mapper replaces the attribute with a descriptor.  For a type checker it
*is* that descriptor: with no plugin, on ``class User(Base)`` with ``name: Mapped[str]`` and
``fullname: Mapped[Optional[str]]``,

- ``user.name`` is ``str`` and ``user.fullname`` is ``str | None`` (``__get__`` on an instance);
- ``User.name`` is a :class:`~minialchemy.orm.mapper.QueryableAttribute` (``__get__`` on the
  class): a column expression, so ``User.name == "sandy"`` and ``User.id.in_([1, 2])`` check;
- ``user.name = 5`` is an error (``__set__`` takes a ``str``).

``mapped_column()`` and ``relationship()`` return subclasses of ``Mapped``, so
``id: Mapped[int] = mapped_column(primary_key=True)`` checks as well.

Where it sits: imported by declarative (:mod:`minialchemy.orm.decl_api`), the relationships and
the mapper; it imports nothing of the ORM at run time.
"""

from __future__ import annotations

import types

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers treat it as True)
if TYPE_CHECKING:
    from typing import Any, overload
    from typing import Generic as Generic, TypeVar as TypeVar

    from minialchemy.orm.mapper import QueryableAttribute
else:
    # typing costs more to import than the whole package (issue 12); at run time ``Mapped[int]``
    # only has to make an annotation, which these two small stand-ins do.

    class TypeVar:
        """A type variable at run time: just its name, to write ``Generic[T]``."""

        def __init__(self, name: str) -> None:
            self.__name__ = name

    class Generic:
        """``Class[X]`` gives ``types.GenericAlias(Class, X)``, as ``list[int]`` does: its
        ``__origin__`` is the class and its ``__args__`` are ``(X,)``."""

        __slots__ = ()
        __class_getitem__ = classmethod(types.GenericAlias)

__all__ = ["Mapped"]

T = TypeVar("T")


class Mapped(Generic[T]):
    """The annotation of a mapped attribute: ``name: Mapped[str]`` (see the module docstring)."""

    __slots__ = ()

    if TYPE_CHECKING:

        @overload
        def __get__(self, instance: None, owner: Any) -> QueryableAttribute[T]: ...

        @overload
        def __get__(self, instance: object, owner: Any) -> T: ...

        def __get__(self, instance: object | None, owner: Any) -> QueryableAttribute[T] | T: ...

        def __set__(self, instance: Any, value: T) -> None: ...

        def __delete__(self, instance: Any) -> None: ...
