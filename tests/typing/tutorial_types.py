"""Type-checked, not run: what mypy (no plugin) infers on the tutorial's models.

tests/test_typing.py runs mypy on this file; each ``reveal_type`` line ends with the type
mypy must reveal, after ``# revealed:``.
"""

from typing import List, Optional

from minialchemy import ForeignKey, String, create_engine, select
from minialchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    fullname: Mapped[Optional[str]]
    addresses: Mapped[List["Address"]] = relationship(back_populates="user")


class Address(Base):
    __tablename__ = "address"
    id: Mapped[int] = mapped_column(primary_key=True)
    email_address: Mapped[str]
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    user: Mapped[User] = relationship(back_populates="addresses")


engine = create_engine("sqlite://")
with Session(engine) as session:
    user = User(name="sandy", fullname="Sandy Cheeks")
    reveal_type(user.name)  # revealed: str
    reveal_type(user.fullname)  # revealed: str | None
    reveal_type(user.id)  # revealed: int
    reveal_type(user.addresses)  # revealed: list[tutorial_types.Address]
    reveal_type(user.addresses[0].user)  # revealed: tutorial_types.User
    reveal_type(User.name)  # revealed: minialchemy.orm.mapper.QueryableAttribute[str]
    reveal_type(session.get(User, 1))  # revealed: tutorial_types.User | None
    statement = select(User).where(User.name == "sandy", User.id.in_([1, 2]))
    with_address = select(User).where(User.addresses.any(Address.email_address == "sandy@example.com"))
    found = session.get(Address, 2)
    if found is not None:
        reveal_type(found.email_address)  # revealed: str
    user.fullname = None
    user.name = "sandra"
