"""SQLite storage: the connection, migrations and repositories."""
