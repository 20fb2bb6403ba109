"""A console user as accounts.py and `loyalflow users list` see them, apart from the ORM code, so
the CLI's plain-SQL reader (cli/readers) builds the same shape without loading SQLAlchemy."""

from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["admin", "marketer", "support"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    locale: str | None
    disabled: bool
