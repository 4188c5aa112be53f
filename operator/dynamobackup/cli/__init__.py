"""Command-line interface: `dbr check`, `dbr render`, `dbr dev`, `dbr run`."""
