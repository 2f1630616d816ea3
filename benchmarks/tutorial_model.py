"""The tutorial's ``User`` model, declared the same way for minialchemy and for SQLAlchemy.

The benchmarks compare the two libraries on identical code: this module writes the class once
and imports the names from whichever library it is asked for (the API is the same, which is
the point of minialchemy).  No ``from __future__ import annotations`` here: SQLAlchemy would
then look the string ``"Mapped[int]"`` up among this module's globals, where the library's
``Mapped`` is not.
"""

from importlib import import_module
from typing import Any, List, Optional


def user_model(library: str) -> tuple[Any, Any]:
    """A fresh ``(Base, User)`` for ``library`` (``"minialchemy"`` or ``"sqlalchemy"``):
    ``user_account`` with ``id``, ``name`` (VARCHAR(30), NOT NULL) and ``fullname``."""
    core = import_module(library)
    orm = import_module(f"{library}.orm")
    Mapped, mapped_column = orm.Mapped, orm.mapped_column

    class Base(orm.DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "user_account"

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(core.String(30))
        fullname: Mapped[Optional[str]]

    return Base, User


def user_address_model(library: str) -> tuple[Any, Any, Any]:
    """A fresh ``(Base, User, Address)`` for ``library``: the tutorial's ``User`` with
    ``addresses`` (one-to-many, ``back_populates``) and ``Address`` with ``user``."""
    core = import_module(library)
    orm = import_module(f"{library}.orm")
    Mapped, mapped_column, relationship = orm.Mapped, orm.mapped_column, orm.relationship

    class Base(orm.DeclarativeBase):
        pass

    class User(Base):
        __tablename__ = "user_account"

        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(core.String(30))
        fullname: Mapped[Optional[str]]
        addresses: Mapped[List["Address"]] = relationship(back_populates="user")

    class Address(Base):
        __tablename__ = "address"

        id: Mapped[int] = mapped_column(primary_key=True)
        email_address: Mapped[str]
        user_id: Mapped[int] = mapped_column(core.ForeignKey("user_account.id"))
        user: Mapped[User] = relationship(back_populates="addresses")

    return Base, User, Address
