"""The posted result of a job, the same in both styles: the head line that pings the member, the
embed's title, settings and cost (with the "Made from" link of a menu job), the prompt, the video
and the four buttons. ``bot.ui.card`` lays it out."""

from __future__ import annotations

from bot.domain.models import Job
from bot.exts.video._buttons import result_buttons
from bot.exts.video._sources import with_source
from bot.ui import render
from bot.ui.card import Shown


def result_shown(
    job: Job, *, link: str | None, source: tuple[int, int, int] | None, filename: str | None = None
) -> Shown:
    """``link``: the provider's URL when the file is over the upload limit; ``filename``: the upload."""
    return Shown(
        render.result_text(job, link=link),
        with_source(render.result_embed(job, link=link), source),
        prompt=job.spec.prompt,
        buttons=result_buttons(job),
        filename=filename,
    )
