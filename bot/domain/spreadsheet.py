"""Cells of the ledger CSV, as both exports write them (``/wan-admin export`` and
``python -m bot export-ledger``): one function, so the two files can never differ."""

from __future__ import annotations

# A cell starting with one of these is a formula to a spreadsheet (Excel, LibreOffice, Sheets);
# free text (a grant's reason, a period label) must not become one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str | None) -> str:
    """Free text for a CSV cell: shown as typed, never run (a leading ' makes it text)."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value
