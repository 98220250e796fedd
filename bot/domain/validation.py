"""Acceptance checks on a /video request: everything that can be decided without money or network.

They run before any credit is held or any provider is called; each refusal says what to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.domain import markdown
from bot.domain.models import DURATIONS, RESOLUTIONS, Duration, Mode, Resolution, VideoSpec
from bot.errors import InvalidRequest

MAX_PROMPT_CHARS = 5000  # both provider documents
MAX_URL_CHARS = 2048

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")
_VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v")


@dataclass(frozen=True, slots=True)
class Media:
    """An attachment as the member supplied it (Discord-free)."""

    url: str
    filename: str
    content_type: str | None
    size: int


@dataclass(frozen=True, slots=True)
class MediaLimits:
    max_image_bytes: int
    max_video_bytes: int


def refuse_nul(text: str, what: str) -> str:
    """Text with a NUL character cannot be stored (PostgreSQL text refuses it): say so, on every backend."""
    if "\x00" in text:
        raise InvalidRequest(
            f"{what} contains a NUL character (\\0), which cannot be stored (at position {text.index(chr(0)) + 1})."
            " Remove it (retype the text rather than pasting it) and try again. Nothing was charged or changed."
        )
    return text


def validate_reason(reason: str | None) -> str | None:
    """A moderator's or admin's free-text reason, before anything is stored."""
    return None if reason is None else refuse_nul(reason, "The reason")


def _check_text(prompt: str) -> None:
    """Refuse text that cannot be stored or sent as it is (before anything is held)."""
    # A lone surrogate (half of an emoji, from a broken client or paste) is not a character:
    # it cannot be encoded as UTF-8, so neither the database nor the provider could take it.
    broken = next((index for index, ch in enumerate(prompt) if "\ud800" <= ch <= "\udfff"), None)
    if broken is not None:
        raise InvalidRequest(
            f"The prompt has a broken character at position {broken + 1} (half of an emoji or symbol, "
            "often left by copy and paste). Delete it or type it again, then retry. Nothing was charged."
        )
    # PostgreSQL text cannot hold NUL, and no provider expects one; it is never typed on purpose.
    refuse_nul(prompt, "The prompt")


def validate_prompt(prompt: str) -> str:
    _check_text(prompt)
    text = prompt.strip()
    if not text:
        raise InvalidRequest("The prompt is empty. Describe the scene you want, in 1 to 5000 characters.")
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidRequest(
            f"The prompt is {len(text)} characters long; the limit is {MAX_PROMPT_CHARS}. Shorten it and try again."
        )
    return text


def validate_https_url(url: str, option: str) -> str:
    """A member-supplied URL is only ever handed to the provider, never fetched here; it must be https."""
    value = refuse_nul(url, f"`{option}`").strip()
    if len(value) > MAX_URL_CHARS:
        raise InvalidRequest(f"`{option}` is longer than {MAX_URL_CHARS} characters. Use a shorter link.")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise InvalidRequest(f"`{option}` is not a valid link. Paste a full https:// address.") from None
    if parts.scheme.lower() != "https":
        raise InvalidRequest(f"`{option}` must be an https:// link (plain http and other schemes are refused).")
    if not host or any(ch.isspace() for ch in value):
        raise InvalidRequest(f"`{option}` is not a valid link. Paste a full https:// address.")
    if parts.username or parts.password:
        raise InvalidRequest(f"`{option}` must not contain a user name or password.")
    return value


def _check_suffix(url: str, option: str, wrong: tuple[str, ...], *, takes: str, looks_like: str) -> None:
    # Only an obvious mismatch is refused: the bot never fetches the URL, so the extension is all it sees.
    if urlsplit(url).path.lower().endswith(wrong):
        raise InvalidRequest(f"`{option}` looks like it points to a {looks_like} file; it takes {takes}.")


def _check_media(media: Media, option: str, kind: str, limit: int) -> None:
    content_type = (media.content_type or "").split(";")[0].strip().lower()
    if not content_type.startswith(f"{kind}/"):
        other = "video" if kind == "image" else "image"
        hint = f" Put {other}s in the `{other}` option." if content_type.startswith(f"{other}/") else ""
        shown = content_type or "an unknown type"
        raise InvalidRequest(
            f"`{option}` must be {('an image' if kind == 'image' else 'a video')} file; "
            f"{markdown.inline(media.filename)} is {shown}.{hint}"
        )
    if media.size <= 0:
        raise InvalidRequest(f"{markdown.inline(media.filename)} is empty. Attach the file again.")
    if media.size > limit:
        raise InvalidRequest(
            f"{markdown.inline(media.filename)} is {media.size / 1_048_576:.1f} MB; {kind}s can be at most "
            f"{limit / 1_048_576:.0f} MB. Attach a smaller file."
        )


def _parse_duration(value: int | str) -> int:
    # Discord sends the choice as a string ("5"); the domain works in whole seconds.
    if isinstance(value, int):
        return value
    text = value.strip().removesuffix("s").strip()
    return int(text) if text.isdigit() else -1


def build_spec(
    *,
    prompt: str,
    duration: int | str | None,
    resolution: str | None,
    image: Media | None = None,
    video: Media | None = None,
    image_url: str | None = None,
    video_url: str | None = None,
    limits: MediaLimits,
    default_duration: Duration = 5,
    default_resolution: Resolution = "720p",
) -> VideoSpec:
    """Turn raw command options into a VideoSpec, or raise InvalidRequest saying what to change."""
    text = validate_prompt(prompt)

    if image is not None and image_url:
        raise InvalidRequest("Give the image either as an attachment or as `image_url`, not both.")
    if video is not None and video_url:
        raise InvalidRequest("Give the video either as an attachment or as `video_url`, not both.")
    has_image = image is not None or bool(image_url and image_url.strip())
    has_video = video is not None or bool(video_url and video_url.strip())
    if has_image and has_video:
        raise InvalidRequest(
            "Give an image or a video, not both: an image makes image-to-video, a video makes video-to-video."
        )

    final_image_url: str | None = None
    final_video_url: str | None = None
    if image is not None:
        _check_media(image, "image", "image", limits.max_image_bytes)
        final_image_url = image.url
    elif image_url:
        final_image_url = validate_https_url(image_url, "image_url")
        _check_suffix(final_image_url, "image_url", _VIDEO_SUFFIXES, takes="an image", looks_like="video")
    if video is not None:
        _check_media(video, "video", "video", limits.max_video_bytes)
        final_video_url = video.url
    elif video_url:
        final_video_url = validate_https_url(video_url, "video_url")
        _check_suffix(final_video_url, "video_url", _IMAGE_SUFFIXES, takes="a video", looks_like="image")

    if final_video_url:
        mode = Mode.VIDEO_TO_VIDEO
    elif final_image_url:
        mode = Mode.IMAGE_TO_VIDEO
    else:
        mode = Mode.TEXT_TO_VIDEO

    chosen_duration = default_duration if duration is None else _parse_duration(duration)
    if chosen_duration not in DURATIONS:
        raise InvalidRequest("`duration` must be 5, 10 or 15 seconds.")
    if chosen_duration not in mode.durations:
        raise InvalidRequest("Video-to-video renders 5 or 10 seconds; 15 is only for text and image. Pick 5 or 10.")
    chosen_resolution = default_resolution if resolution is None else resolution
    if chosen_resolution not in RESOLUTIONS:
        raise InvalidRequest("`resolution` must be 720p or 1080p.")

    return VideoSpec(
        mode=mode,
        prompt=text,
        duration=chosen_duration,
        resolution=chosen_resolution,
        image_url=final_image_url,
        video_url=final_video_url,
    )
