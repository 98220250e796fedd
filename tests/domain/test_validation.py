"""Acceptance checks on /video options: every refusal says what to change."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.models import Mode
from bot.domain.validation import Media, MediaLimits, build_spec
from bot.errors import InvalidRequest

LIMITS = MediaLimits(max_image_bytes=20 * 1_048_576, max_video_bytes=100 * 1_048_576)
PNG = Media(url="https://cdn.example/cat.png", filename="cat.png", content_type="image/png", size=1000)
MP4 = Media(url="https://cdn.example/clip.mp4", filename="clip.mp4", content_type="video/mp4", size=10_000)


def spec(**options: object):  # type: ignore[no-untyped-def]
    options.setdefault("prompt", "a cat")
    options.setdefault("duration", None)
    options.setdefault("resolution", None)
    return build_spec(limits=LIMITS, **options)  # type: ignore[arg-type]


def test_mode_follows_what_is_given() -> None:
    assert spec().mode is Mode.TEXT_TO_VIDEO
    assert spec(image=PNG).mode is Mode.IMAGE_TO_VIDEO
    assert spec(image_url="https://x.example/a.jpg").mode is Mode.IMAGE_TO_VIDEO
    assert spec(video=MP4).mode is Mode.VIDEO_TO_VIDEO
    assert spec(video_url="https://x.example/a.mp4", duration="10").mode is Mode.VIDEO_TO_VIDEO


def test_defaults_and_choices() -> None:
    made = spec(duration="15", resolution="1080p")
    assert (made.duration, made.resolution) == (15, "1080p")
    assert (spec().duration, spec().resolution) == (5, "720p")
    assert spec(prompt="  padded  ").prompt == "padded"


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"prompt": "   "}, "prompt is empty"),
        ({"prompt": "x" * 5001}, "5001 characters long; the limit is 5000"),
        ({"image": PNG, "video": MP4}, "not both"),
        ({"image_url": "https://a.example/x.png", "video_url": "https://a.example/y.mp4"}, "not both"),
        ({"image": PNG, "image_url": "https://a.example/x.png"}, "either as an attachment or as `image_url`"),
        ({"video": MP4, "duration": "15"}, "Pick 5 or 10"),
        ({"duration": "7"}, "5, 10 or 15"),
        ({"resolution": "4k"}, "720p or 1080p"),
        ({"image": MP4}, "Put videos in the `video` option"),
        ({"video": PNG}, "must be a video file"),
        ({"image": Media("https://c/x", "x.bin", None, 10)}, "unknown type"),
        ({"image": Media("https://c/x", "big.png", "image/png", 21 * 1_048_576)}, "at most 20 MB"),
        ({"image": Media("https://c/x", "e.png", "image/png", 0)}, "is empty"),
        ({"image_url": "http://a.example/x.png"}, "must be an https:// link"),
        ({"image_url": "javascript:alert(1)"}, "must be an https:// link"),
        ({"video_url": "https://user:pw@a.example/x.mp4"}, "user name or password"),
        ({"video_url": "https://"}, "not a valid link"),
        ({"image_url": "https://a.example/clip.mp4"}, "looks like it points to a video"),
        ({"image_url": "https://a.example/" + "x" * 3000}, "longer than 2048"),
    ],
)
def test_refusals_say_what_to_change(options: dict[str, object], needle: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        spec(**options)
    assert needle in caught.value.message


optional_text = st.one_of(st.none(), st.text(max_size=300))


@given(
    prompt=st.text(max_size=6000),
    duration=st.one_of(st.none(), st.sampled_from(["5", "10", "15", "0", "-1", "x", ""]), st.integers()),
    resolution=st.one_of(st.none(), st.sampled_from(["720p", "1080p", "8k", ""])),
    image_url=optional_text,
    video_url=optional_text,
)
def test_any_input_is_a_spec_or_a_clear_refusal(
    prompt: str, duration: object, resolution: str | None, image_url: str | None, video_url: str | None
) -> None:
    try:
        made = spec(prompt=prompt, duration=duration, resolution=resolution, image_url=image_url, video_url=video_url)
    except InvalidRequest as error:
        assert error.message and len(error.message) < 500
        return
    assert 1 <= len(made.prompt) <= 5000
    assert made.duration in made.mode.durations
    for url in (made.image_url, made.video_url):
        assert url is None or url.startswith("https://")


def test_nul_characters_are_refused_with_what_to_change() -> None:
    from bot.domain.validation import validate_https_url, validate_prompt, validate_reason

    # One refusal for every text, saying where the NUL is and what to do.
    with pytest.raises(
        InvalidRequest,
        match=r"The prompt contains a NUL character \(\\0\), which cannot be stored \(at position 6\)\. Remove it",
    ):
        validate_prompt("a cat\x00 surfing")
    with pytest.raises(InvalidRequest, match="`image_url` contains a NUL character"):
        validate_https_url("https://a.example/\x00.png", "image_url")
    with pytest.raises(InvalidRequest, match="The reason contains a NUL character"):
        validate_reason("spam\x00")
    assert validate_reason(None) is None
    assert validate_prompt("a cat surfing") == "a cat surfing"
