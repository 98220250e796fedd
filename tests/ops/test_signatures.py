"""The apimall webhook assumption: HMAC-SHA256 over the raw body (or "<timestamp>.<body>")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ops.callbacks import extract_task_id, sign, verify_signature

SECRET = "whsec-unit"


def test_a_signature_verifies_with_or_without_prefix_and_in_any_case() -> None:
    body = b'{"task_id": "vid_1"}'
    digest = sign(SECRET, body)
    assert verify_signature(SECRET, body, digest)
    assert verify_signature(SECRET, body, "sha256=" + digest)
    assert verify_signature(SECRET, body, digest.upper())
    assert not verify_signature(SECRET, body + b" ", digest)
    assert not verify_signature("", body, sign("", body))  # no secret configured: nothing verifies
    assert not verify_signature(SECRET, body, None)
    assert not verify_signature(SECRET, body, digest[:-1])


@given(body=st.binary(max_size=256), other=st.binary(max_size=256))
def test_only_the_signed_body_verifies(body: bytes, other: bytes) -> None:
    digest = sign(SECRET, body)
    assert verify_signature(SECRET, body, digest)
    assert verify_signature(SECRET, other, digest) == (other == body)


@pytest.mark.parametrize(("skew", "ok"), [(0, True), (299, True), (-299, True), (301, False), (-301, False)])
def test_timestamps_must_be_recent(skew: int, ok: bool) -> None:
    body, now = b"{}", 1_800_000_000
    stamp = str(now + skew)
    kwargs = {"use_timestamp": True, "tolerance_seconds": 300, "now": float(now)}
    assert verify_signature(SECRET, body, sign(SECRET, body, stamp), timestamp=stamp, **kwargs) is ok
    # The timestamp is part of what is signed: moving it breaks the signature.
    moved = str(now)
    assert not verify_signature(SECRET, body, sign(SECRET, body, stamp), timestamp=moved + "1", **kwargs)
    assert not verify_signature(SECRET, body, sign(SECRET, body), timestamp=None, **kwargs)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"task_id": "vid_1"}, "vid_1"),
        ({"taskId": "vid_2"}, "vid_2"),
        ({"event": "task.completed", "data": {"task_id": "vid_3", "status": "completed"}}, "vid_3"),
        ({"data": {"taskId": 12345}}, "12345"),
        ({"data": {"task": {"id": "vid_5"}}}, "vid_5"),
        ({"task": {"task_id": " vid_6 "}}, "vid_6"),
        ({"data": {"task_id": True}}, None),
        ({"data": {"task_id": ""}}, None),
        ({"id": "evt_1"}, None),  # a bare id may be the event's own: not guessed
        (["vid_1"], None),
        ("vid_1", None),
        ({"task_id": "x" * 500}, None),
    ],
)
def test_task_id_from_plausible_shapes(payload: object, expected: str | None) -> None:
    assert extract_task_id(payload) == expected
