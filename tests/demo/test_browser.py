"""A person uses the real bot in the browser demo: the page SimCord serves, the bot behind it, the
background clock finishing renders. Every action must succeed on the first try, clock or not."""

from __future__ import annotations

from typing import Any

from tests.demo.conftest import LiveDemo

READY = "() => window.simcordPreview && window.simcordPreview.ready === true"
# The conversation's messages, one element each (not the sidebar's excerpts).
MESSAGE = "#channel-message-list [data-message-id]"
# Timeouts in ms for Playwright's waits; generous for a shared 2-core machine, never asserted on.
WAIT = 30_000


async def receipts(page: Any) -> list[dict[str, Any]]:
    """Every action the page sent and what SimCord answered (its activity log)."""
    activity = await page.evaluate("() => window.simcordPreview.activity")
    return [item for item in activity if isinstance(item, dict)]


async def slash(page: Any, name: str, prompt: str | None = None) -> None:
    """Type ``/name`` in the composer and pick it from the popup; with a prompt, type it and press
    Enter, otherwise press Send (Enter there would pick the first optional option, as in Discord)."""
    composer = page.locator("#channel-composer-input")
    await composer.click()
    await composer.type(f"/{name}")
    await page.locator('[role="option"]', has_text=f"/{name}").first.click()
    if prompt is not None:
        await page.keyboard.type(prompt)
        await page.keyboard.press("Enter")
    else:
        await page.locator("#channel-composer").get_by_role("button", name="Send").click()


async def test_a_person_makes_a_video_then_rerolls_it_all_on_the_first_try(live_demo: LiveDemo, page: Any) -> None:
    assert any("ssh -N -L" in line and "127.0.0.1" in line for line in live_demo.lines)
    await page.goto(live_demo.url)
    await page.wait_for_function(READY, timeout=WAIT)
    # The first message says what to try.
    await page.locator(MESSAGE, has_text="Welcome to the Wan 2.6 bot demo").wait_for(timeout=WAIT)

    await slash(page, "video", "A red fox trotting through fresh snow, cinematic")
    # The private answer, with the price and the balance after the hold.
    answer = page.locator(MESSAGE, has_text="Job #1 accepted").last
    await answer.get_by_text("Only you can see this").wait_for(timeout=WAIT)
    assert "Price 80 credits" in (await answer.inner_text())
    assert "Balance after the hold: 420 credits" in (await answer.inner_text())

    # Nobody refreshes: the clock finishes the render and the page shows the posted result.
    result = page.locator(MESSAGE, has_text="your video is ready").last
    await result.wait_for(timeout=WAIT)
    await result.get_by_role("button", name="Reroll").click()
    await page.locator(MESSAGE, has_text="Job #2 accepted").last.wait_for(timeout=WAIT)

    # While job #2 renders (the clock advancing and republishing), another command still goes through.
    await slash(page, "credits")
    credits = page.locator(MESSAGE, has_text="alice used /credits").last
    await credits.wait_for(timeout=WAIT)
    assert "340" in (await credits.inner_text())  # 500 less two holds of 80
    await page.locator(MESSAGE, has_text="Job #2").filter(has_text="Done").last.wait_for(timeout=WAIT)

    sent = await receipts(page)
    actions = [item for item in sent if item.get("settlement") != "rejected" and item.get("dispatched")]
    assert [item.get("rejected") for item in sent] == [False] * len(sent), sent
    assert not any(item.get("uncertain") for item in sent), sent
    # /video, Reroll, /credits: three actions reached the bot, each once.
    assert len(actions) == 3, sent
    status = await page.evaluate("() => window.simcordPreview.transport.state")
    assert status in {"healthy", "recovered"}

    code, after = await live_demo.stop()
    assert code == 0 and after[-1].startswith("Demo stopped: the bot closed cleanly"), after
