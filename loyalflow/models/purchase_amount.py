"""`event.amount`: a purchase's amount, computed by the database from `properties` (a generated
column; nothing writes it), so reports read revenue from an index rather than parsing every
event's JSON. NULL for other events and for an amount that is not a number.

The expression is spelled per database: SQLite (a virtual column) and PostgreSQL (stored).
"""

from typing import Any

from sqlalchemy import Numeric
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import FunctionElement


class purchase_amount(FunctionElement[Any]):
    type = Numeric()
    inherit_cache = True


@compiles(purchase_amount, "sqlite")
def _sqlite(element: purchase_amount, compiler: SQLCompiler, **kw: Any) -> str:
    return (
        "CASE WHEN type = 'purchase' AND json_type(properties, '$.amount') IN ('integer', 'real')"
        " THEN json_extract(properties, '$.amount')"
        " WHEN type = 'purchase' AND json_type(properties, '$.amount') = 'text'"
        " THEN CAST(json_extract(properties, '$.amount') AS NUMERIC) END"
    )


@compiles(purchase_amount, "postgresql")
def _postgresql(element: purchase_amount, compiler: SQLCompiler, **kw: Any) -> str:
    # A string amount counts when it reads as a decimal number (the API accepts "12.50").
    return (
        "CASE WHEN type = 'purchase' AND (json_typeof(properties -> 'amount') = 'number'"
        " OR (properties ->> 'amount') ~ '^\\s*-?[0-9]{1,15}(\\.[0-9]{1,10})?\\s*$')"
        " THEN CAST(properties ->> 'amount' AS numeric) END"
    )
