"""/wan-admin export writes member-typed text so a spreadsheet shows it and never runs it,
exactly as ``python -m bot export-ledger`` does."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from bot.domain.spreadsheet import spreadsheet_text

FORMULAS = ['=HYPERLINK("http://x","prize")', "+1+1", "-2+3", "@SUM(A1:A9)", "=cmd|' /C calc'!A0"]


async def test_export_quotes_cells_a_spreadsheet_would_run(world_factory: Any) -> None:
    async with world_factory() as world:
        for reason in [*FORMULAS, "contest"]:
            await world.admin.slash(world.channel, "wan-admin grant", member=world.bob, amount=5, reason=reason)

        export = await world.admin.slash(world.channel, "wan-admin export")

        [file] = export.response.attachments
        rows = list(csv.DictReader(io.StringIO((await file.read()).decode("utf-8"))))
        reasons = [row["reason"] for row in rows if row["kind"] == "grant"]
        assert reasons == ["'" + text for text in FORMULAS] + ["contest"]
        assert reasons == [spreadsheet_text(text) for text in [*FORMULAS, "contest"]]


@pytest.mark.parametrize("text", [*FORMULAS, "\tx", "\rx", "plain", ""])
def test_one_function_quotes_for_both_exports(text: str) -> None:
    quoted = spreadsheet_text(text)
    assert quoted == ("'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text)
