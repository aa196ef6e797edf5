"""Per-realm customer counts kept by the database itself (the migration dashboard's
"imported", "done", "disabled" and "locked for good"), so a dashboard at a million
customers reads one row instead of counting the realm four times.

Why triggers: every entry point that writes customers (the import's COPY and bulk
INSERT, the flows, Mon compte, the console, the admin API, DCR, realm import, the CLI,
a realm deletion's cascade) is covered in the same transaction as the change, with no
code path able to forget it. On PostgreSQL, inserts and deletes are counted once per
statement from the transition tables (a 10,000-row COPY costs one UPDATE of the counter);
updates fire per row only when one of the counted states changes (a failed sign-in or a
new session does not touch the counter row, so sign-ins never queue on it). SQLite has
row triggers only; its imports are smaller.

The statements are used by ``db.create_all()`` (tests, the embedded default) and by the
Alembic revision that introduced the table.
"""

# The SQL below is built from this module's constants only (no outside value): S608 off.
# ruff: noqa: S608
from __future__ import annotations

from typing import Any

from sqlalchemy import text

TABLE = "realm_customer_count"
COUNTED = ("imported", "done", "disabled", "locked")

# What each counted state means for one customer row ``{r}`` (the dashboard's definitions,
# see idp.core.operations.migration).
FLAGS = {
    "done": "({r}.activated_at IS NOT NULL OR ({r}.password_hash IS NOT NULL"
            " AND {r}.email_verified))",
    "disabled": "(NOT {r}.enabled)",
    "locked": "({r}.enabled AND {r}.locked_permanently)",
}


def _changed(old: str, new: str) -> str:
    return " OR ".join(f"{FLAGS[k].format(r=old)} IS DISTINCT FROM {FLAGS[k].format(r=new)}"
                       for k in FLAGS)


def _pg_statement_function(name: str, rows: str, sign: str) -> str:
    sums = ", ".join(f"{k} = c.{k} {sign} d.{k}" for k in COUNTED)
    aggregates = ", ".join(f"count(*) FILTER (WHERE {FLAGS[k].format(r='t')}) AS {k}"
                           for k in FLAGS)
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {TABLE} c SET {sums}
  FROM (SELECT t.realm_id, count(*) AS imported, {aggregates}
        FROM {rows} t GROUP BY t.realm_id) d
  WHERE c.realm_id = d.realm_id;
  RETURN NULL;
END $$"""


def _int_pg(expr: str) -> str:
    return f"(CASE WHEN {expr} THEN 1 ELSE 0 END)"


POSTGRESQL = [
    _pg_statement_function("realm_customer_count_insert", "new_rows", "+"),
    _pg_statement_function("realm_customer_count_delete", "old_rows", "-"),
    f"""
CREATE OR REPLACE FUNCTION realm_customer_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {TABLE} SET {", ".join(
        f"{k} = {k} + {_int_pg(FLAGS[k].format(r='NEW'))} - {_int_pg(FLAGS[k].format(r='OLD'))}"
        for k in FLAGS)}
  WHERE realm_id = NEW.realm_id;
  RETURN NULL;
END $$""",
    f"""
CREATE OR REPLACE FUNCTION realm_customer_count_new_realm() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {TABLE} (realm_id, {", ".join(COUNTED)}) VALUES (NEW.id, 0, 0, 0, 0)
  ON CONFLICT (realm_id) DO NOTHING;
  RETURN NULL;
END $$""",
    "DROP TRIGGER IF EXISTS customer_count_insert ON customer",
    "CREATE TRIGGER customer_count_insert AFTER INSERT ON customer REFERENCING NEW TABLE AS"
    " new_rows FOR EACH STATEMENT EXECUTE FUNCTION realm_customer_count_insert()",
    "DROP TRIGGER IF EXISTS customer_count_delete ON customer",
    "CREATE TRIGGER customer_count_delete AFTER DELETE ON customer REFERENCING OLD TABLE AS"
    " old_rows FOR EACH STATEMENT EXECUTE FUNCTION realm_customer_count_delete()",
    "DROP TRIGGER IF EXISTS customer_count_update ON customer",
    f"CREATE TRIGGER customer_count_update AFTER UPDATE ON customer FOR EACH ROW WHEN"
    f" ({_changed('OLD', 'NEW')}) EXECUTE FUNCTION realm_customer_count_update()",
    "DROP TRIGGER IF EXISTS realm_count_insert ON realm",
    "CREATE TRIGGER realm_count_insert AFTER INSERT ON realm FOR EACH ROW"
    " EXECUTE FUNCTION realm_customer_count_new_realm()",
]

POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS customer_count_insert ON customer",
    "DROP TRIGGER IF EXISTS customer_count_delete ON customer",
    "DROP TRIGGER IF EXISTS customer_count_update ON customer",
    "DROP TRIGGER IF EXISTS realm_count_insert ON realm",
    "DROP FUNCTION IF EXISTS realm_customer_count_insert()",
    "DROP FUNCTION IF EXISTS realm_customer_count_delete()",
    "DROP FUNCTION IF EXISTS realm_customer_count_update()",
    "DROP FUNCTION IF EXISTS realm_customer_count_new_realm()",
]


def _sqlite_row(name: str, event: str, body: str, when: str = "") -> str:
    return (f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event}"
            f"{' WHEN ' + when if when else ''} BEGIN {body}; END")


SQLITE = [
    _sqlite_row("customer_count_insert", "INSERT ON customer",
                f"UPDATE {TABLE} SET imported = imported + 1, " + ", ".join(
                    f"{k} = {k} + {FLAGS[k].format(r='NEW')}" for k in FLAGS)
                + " WHERE realm_id = NEW.realm_id"),
    _sqlite_row("customer_count_delete", "DELETE ON customer",
                f"UPDATE {TABLE} SET imported = imported - 1, " + ", ".join(
                    f"{k} = {k} - {FLAGS[k].format(r='OLD')}" for k in FLAGS)
                + " WHERE realm_id = OLD.realm_id"),
    _sqlite_row("customer_count_update", "UPDATE ON customer FOR EACH ROW",
                f"UPDATE {TABLE} SET " + ", ".join(
                    f"{k} = {k} + {FLAGS[k].format(r='NEW')} - {FLAGS[k].format(r='OLD')}"
                    for k in FLAGS) + " WHERE realm_id = NEW.realm_id",
                when=_changed("OLD", "NEW")),
    _sqlite_row("realm_count_insert", "INSERT ON realm",
                f"INSERT OR REPLACE INTO {TABLE} (realm_id, {', '.join(COUNTED)})"
                " VALUES (NEW.id, 0, 0, 0, 0)"),
    _sqlite_row("realm_count_delete", "DELETE ON realm",
                f"DELETE FROM {TABLE} WHERE realm_id = OLD.id"),
]

SQLITE_DROP = [f"DROP TRIGGER IF EXISTS {name}" for name in (
    "customer_count_insert", "customer_count_delete", "customer_count_update",
    "realm_count_insert", "realm_count_delete")]

RECOUNT = f"""
SELECT r.id, count(c.id), {", ".join(
    f"coalesce(sum(CASE WHEN {FLAGS[k].format(r='c')} THEN 1 ELSE 0 END), 0)" for k in FLAGS)}
FROM realm r LEFT JOIN customer c ON c.realm_id = r.id
{{where}} GROUP BY r.id"""


def statements(dialect: str) -> list[str]:
    return POSTGRESQL if dialect == "postgresql" else SQLITE


def install(connection: Any) -> None:
    """Create the triggers and set every realm's counts from a recount (idempotent)."""
    for statement in statements(connection.dialect.name):
        connection.execute(text(statement))
    rebuild(connection)


def rebuild(connection: Any, realm_id: int | None = None) -> None:
    """Set the kept counts from a full recount (after a restore, or to repair)."""
    where = "WHERE r.id = :realm" if realm_id is not None else ""
    rows = connection.execute(text(RECOUNT.format(where=where)),
                              {"realm": realm_id} if realm_id is not None else {}).all()
    for row in rows:
        connection.execute(text(f"DELETE FROM {TABLE} WHERE realm_id = :r"), {"r": row[0]})
        connection.execute(text(
            f"INSERT INTO {TABLE} (realm_id, {', '.join(COUNTED)}) VALUES (:r, :a, :b, :c, :d)"),
            {"r": row[0], "a": row[1], "b": row[2], "c": row[3], "d": row[4]})


def recount(connection: Any, realm_id: int) -> dict[str, int]:
    """The counts computed from the customer rows (what the kept ones must equal)."""
    row = connection.execute(text(RECOUNT.format(where="WHERE r.id = :realm")),
                             {"realm": realm_id}).one()
    return dict(zip(COUNTED, (int(v) for v in row[1:]), strict=True))


def kept(connection: Any, realm_id: int) -> dict[str, int]:
    row = connection.execute(text(f"SELECT {', '.join(COUNTED)} FROM {TABLE}"
                                  " WHERE realm_id = :realm"), {"realm": realm_id}).first()
    return dict(zip(COUNTED, (int(v) for v in row), strict=True)) if row else dict.fromkeys(
        COUNTED, 0)
