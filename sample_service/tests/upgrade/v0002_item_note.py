"""Schema 2, shipped only in the NEXT version the kit's upgrade check installs (kit.toml
[upgrade] next_files drops this file into src/sample_service/migrations/): a real data
change for upgrade and rollback to meet. Additive — a new column with a default — so the
previous release keeps working on the migrated database (READABLE_BY = 1)."""

SQL = "ALTER TABLE items ADD COLUMN note TEXT NOT NULL DEFAULT ''"
READABLE_BY = 1
