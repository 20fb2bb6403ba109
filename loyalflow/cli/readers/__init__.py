"""What read-only CLI commands read, through the database driver alone (sqlite3 or psycopg).

SQLAlchemy's ORM and the SQLModel tables cost most of a read command's start-up (issue 12: a
command that only reads answers in under half a second), so these readers send plain SQL and
build the same API shapes as the ORM code they mirror; tests/cli/test_readers.py checks both
give the same answer on SQLite and PostgreSQL.
"""
