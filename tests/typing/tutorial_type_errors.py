"""Type-checked, not run: mistakes mypy must report on the tutorial's models (each line ending
in ``# error:`` names the error code mypy gives it)."""

from tutorial_types import User

user = User(name="sandy")
user.name = 5  # error: assignment
user.addresses = None  # error: assignment
length: int = user.fullname  # error: assignment
