"""Schema 1: the items table (a database made before migrations existed already has it)."""

SQL = """
CREATE TABLE IF NOT EXISTS items (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    created_at REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS schema_compat (readable_by INTEGER NOT NULL);
"""
READABLE_BY = 1
