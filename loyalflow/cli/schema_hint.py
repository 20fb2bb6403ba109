"""A plain answer for a command run against a database without loyalflow's current schema."""

_MISSING_TABLE = ("no such table", "undefinedtable")
_MISSING_COLUMN = ("no such column", "undefinedcolumn", "has no column named")


def schema_hint(exc: BaseException) -> str | None:
    """What to do when `exc` says the schema is missing or older than this loyalflow."""
    module = type(exc).__module__
    if module.startswith("sqlalchemy"):
        original = getattr(exc, "orig", None)
    elif module.startswith(("sqlite3", "psycopg")):  # the read-only commands' drivers (cli/readers)
        original = exc
    else:
        return None
    said = f"{type(original).__name__} {original}".lower()
    if any(sign in said for sign in _MISSING_TABLE):
        state = "has no loyalflow tables yet"
    elif any(sign in said for sign in _MISSING_COLUMN):
        state = "has an older loyalflow schema than this version"
    else:
        return None
    return (
        f"The database {state}. Run `loyalflow migrate` to apply the migrations "
        "(`loyalflow up` applies them when it starts)."
    )
