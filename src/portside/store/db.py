"""The relational store: SQLAlchemy 2 Core over SQLite in WAL mode.

Every service declares its tables on the shared `metadata`, so one `create_all` and one
`reset` cover them all. The schema is plain Core (no SQLite-only types), so PostgreSQL can
serve the same tables later. `schema_version` records which migrations have run; a data
directory written by a newer portside is refused rather than silently misread.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    create_engine,
    event,
    inspect,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import Executable, Select
from sqlalchemy.types import TypeEngine

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

SCHEMA_VERSION = 5


def _add_column(table: str, column: str, sql_type: TypeEngine) -> Callable[[Connection], None]:
    """A migration adding a nullable column to a table that create_all made without it."""
    def migrate(conn: Connection) -> None:
        schema = inspect(conn)
        if not schema.has_table(table):
            return  # its service was not loaded: create_all makes it in its new form later
        if column not in {c["name"] for c in schema.get_columns(table)}:
            type_sql = sql_type.compile(dialect=conn.dialect)
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} {type_sql}")
    return migrate


def _recreate_index(table: str, index: str) -> Callable[[Connection], None]:
    """A migration replacing an index with its new definition in `metadata` (create_all
    keeps an index that exists under its name, whatever its old form)."""
    def migrate(conn: Connection) -> None:
        found = metadata.tables.get(table)
        if found is None or not inspect(conn).has_table(table):
            return  # its service was not loaded: create_all makes it in its new form later
        new, = (i for i in found.indexes if i.name == index)
        new.drop(conn, checkfirst=True)
        new.create(conn)
    return migrate


def _bus_events_without_autoincrement(conn: Connection) -> None:
    """bus_events made anew with its rows, without AUTOINCREMENT (SQLite cannot alter a key).
    Its events are numbered on from the newest row kept; the old prune could empty the table,
    so a cursor past the newest row moves back to it (it had seen every event there is)."""
    if conn.dialect.name != "sqlite":
        return  # AUTOINCREMENT was SQLite's alone
    found = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'bus_events'").scalar()
    table = metadata.tables.get("bus_events")
    if found is None or "AUTOINCREMENT" not in found.upper() or table is None:
        return  # made in its new form by create_all, or the bus was not loaded
    conn.exec_driver_sql("ALTER TABLE bus_events RENAME TO bus_events_autoincrement")
    table.create(conn)
    columns = ", ".join(c.name for c in table.columns)
    conn.exec_driver_sql(f"INSERT INTO bus_events ({columns}) "
                         f"SELECT {columns} FROM bus_events_autoincrement")
    conn.exec_driver_sql("DROP TABLE bus_events_autoincrement")
    conn.exec_driver_sql("UPDATE bus_cursors SET seq = (SELECT coalesce(max(seq), 0) "
                         "FROM bus_events) WHERE seq > (SELECT coalesce(max(seq), 0) "
                         "FROM bus_events)")


# MIGRATIONS[n] moves a database from version n-1 to n. New tables need no entry: create_all
# adds them; a migration is for changes to tables that already hold data. It runs after
# create_all, so the table is already in its new form if create_all just made it.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _add_column("sqs_messages", "sealed_body", LargeBinary()),  # SQS server-side encryption
    3: _recreate_index("ecs_tasks", "ix_ecs_tasks_stopped"),  # only stopped tasks
    4: _bus_events_without_autoincrement,
    5: _recreate_index("ecs_tasks", "ix_ecs_tasks_host"),  # only Fargate tasks
}


class SchemaTooNew(RuntimeError):
    """The data directory was written by a newer portside."""


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL: readers never block the writer. synchronous=NORMAL: a committed transaction survives
    # the process being killed (kill -9); only an OS crash can lose the last commits.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # A writer waits for the one before it. Under heavy load (test suites at load average 50+
    # on 2 cores) a transaction held the lock past 5 s and CreateCluster failed with
    # "database is locked" (a 500); waiting longer is the answer a client would prefer.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Store:
    """The database of one portside data directory."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    @classmethod
    def in_directory(cls, data_dir: Path) -> Store:
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{data_dir / 'portside.db'}")

    def migrate(self) -> None:
        """Create missing tables and run pending migrations, in one transaction."""
        with self.engine.begin() as conn:
            metadata.create_all(conn)
            current = conn.execute(select(schema_version.c.version)).scalar()
            if current is None:
                conn.execute(schema_version.insert().values(version=SCHEMA_VERSION))
                return
            if current > SCHEMA_VERSION:
                raise SchemaTooNew(
                    f"the data directory has schema version {current}; "
                    f"this portside knows up to {SCHEMA_VERSION}"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](conn)
            conn.execute(schema_version.update().values(version=SCHEMA_VERSION))

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            yield conn

    def reset(self) -> None:
        """Delete every row of every service's tables (not the schema)."""
        with self.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                if table is not schema_version:
                    conn.execute(table.delete())

    def close(self) -> None:
        self.engine.dispose()


def executemany(conn: Connection, statement: Executable,
                rows: Sequence[Mapping[str, Any]]) -> None:
    """Run a prebuilt INSERT or UPDATE once per row (every row with the same keys) through the
    driver's executemany, inside the connection's transaction. SQLAlchemy builds each row's
    parameters in Python, which costs as much as SQLite's own work on a hot path; the SQL is
    still what SQLAlchemy compiles for the connection's dialect, once per statement and keys."""
    if not rows:
        return
    sql, values = _compiled(statement, conn.dialect, tuple(rows[0]))
    params = list(map(values, rows)) if values else list(rows)
    conn.connection.driver_connection.cursor().executemany(sql, params)


def execute(conn: Connection, statement: Executable, row: Mapping[str, Any]) -> int:
    """Run a prebuilt INSERT, UPDATE or DELETE once through the driver, as `executemany` runs
    its rows; returns the driver's `lastrowid` (an INSERT's new integer primary key)."""
    sql, values = _compiled(statement, conn.dialect, tuple(row))
    cursor = conn.connection.driver_connection.cursor()
    cursor.execute(sql, values(row) if values else row)
    return cursor.lastrowid


@cache
def _compiled(statement: Executable, dialect: Dialect, keys: tuple[str, ...]
              ) -> tuple[str, Callable[[Mapping[str, Any]], tuple[Any, ...]] | None]:
    """The SQL for the dialect, and for positional parameter styles (SQLite's `?`) the function
    that puts a row's values in their order."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    order = compiled.positiontup
    if not order:
        return str(compiled), None
    if len(order) == 1:
        return str(compiled), lambda row: (row[order[0]],)
    return str(compiled), itemgetter(*order)


def first(conn: Connection, statement: Select, params: Mapping[str, Any]) -> Any:
    """The first row of a prebuilt SELECT (None when there is none), run through the driver as
    `executemany` runs its statements: for a one-row lookup on a hot path, SQLAlchemy's work
    per execution costs several times SQLite's. The row is a named tuple of the selected
    columns' keys holding the driver's values, without SQLAlchemy's type processing: use it
    where the stored value is the value (text, numbers; not SQLite's 0/1 for a Boolean)."""
    sql, values, row_type = _query(statement, conn.dialect)
    cursor = conn.connection.driver_connection.cursor()
    found = cursor.execute(sql, values(params)).fetchone()
    return None if found is None else row_type._make(found)


@cache
def _query(statement: Select, dialect: Dialect
           ) -> tuple[str, Callable[[Mapping[str, Any]], Any], type]:
    """A SELECT's SQL for the dialect, the function that turns named parameters into the
    driver's (with the values the statement binds itself, such as its LIMIT), and its row
    type."""
    compiled = statement.compile(dialect=dialect)
    bound = dict(compiled.params)
    order = compiled.positiontup
    row_type = namedtuple("Row", [column.key for column in statement.selected_columns])
    if order:
        return str(compiled), lambda params: tuple(
            params[key] if key in params else bound[key] for key in order), row_type
    return str(compiled), lambda params: {**bound, **params}, row_type
