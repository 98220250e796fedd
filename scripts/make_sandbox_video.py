"""Render ``bot/providers/assets/sandbox.mp4``, the clip the free sandbox provider "returns".

The asset is committed, so this script is documentation of how it was made rather than a
build step. It needs PyAV and numpy, which are NOT runtime dependencies of the bot; run it
from a throwaway virtualenv (PyAV's wheels bundle ffmpeg/libx264, so no network or system
ffmpeg is needed once installed)::

    python -m venv /tmp/avvenv && /tmp/avvenv/bin/pip install av numpy
    /tmp/avvenv/bin/python scripts/make_sandbox_video.py [output.mp4]

What it draws: a test card (colour bars, a moving gradient, a bouncing box, a seconds
counter and a "WAN 2.6 SANDBOX" label in a built-in 5x7 pixel font, so no font file is
involved), encoded as H.264 (yuv420p, Main profile) in MP4 with the index at the front
(``+faststart``) so Discord can play it while it streams. x264 runs single-threaded so the
output is byte-for-byte reproducible for the same PyAV/x264 version.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT = 480, 270
FPS = 24
SECONDS = 2.5
FRAMES = int(FPS * SECONDS)
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "bot" / "providers" / "assets" / "sandbox.mp4"

# 5x7 glyphs, only the characters the label and counter use.
FONT: dict[str, tuple[str, ...]] = {
    "W": ("10001", "10001", "10001", "10101", "10101", "10101", "01010"),
    "A": ("01110", "10001", "10001", "11111", "10001", "10001", "10001"),
    "N": ("10001", "11001", "10101", "10011", "10001", "10001", "10001"),
    "S": ("01111", "10000", "10000", "01110", "00001", "00001", "11110"),
    "D": ("11110", "10001", "10001", "10001", "10001", "10001", "11110"),
    "B": ("11110", "10001", "10001", "11110", "10001", "10001", "11110"),
    "O": ("01110", "10001", "10001", "10001", "10001", "10001", "01110"),
    "X": ("10001", "10001", "01010", "00100", "01010", "10001", "10001"),
    "s": ("00000", "00000", "01111", "10000", "01110", "00001", "11110"),
    ".": ("00000", "00000", "00000", "00000", "00000", "01100", "01100"),
    " ": ("00000",) * 7,
    "0": ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    "1": ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    "2": ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": ("11110", "00001", "00001", "01110", "00001", "00001", "11110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
}

BARS = [  # the classic 75% colour bars
    (191, 191, 191),
    (191, 191, 0),
    (0, 191, 191),
    (0, 191, 0),
    (191, 0, 191),
    (191, 0, 0),
    (0, 0, 191),
]


def draw_text(frame: np.ndarray, text: str, x: int, y: int, scale: int, colour: tuple[int, int, int]) -> None:
    for index, char in enumerate(text):
        glyph = FONT[char]
        left = x + index * 6 * scale
        for row, bits in enumerate(glyph):
            for col, bit in enumerate(bits):
                if bit == "1":
                    top, gx = y + row * scale, left + col * scale
                    frame[top : top + scale, gx : gx + scale] = colour


def text_width(text: str, scale: int) -> int:
    return len(text) * 6 * scale - scale


def render_frame(number: int) -> np.ndarray:
    t = number / FPS
    frame = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)

    # Top half: colour bars.
    bar_height = HEIGHT // 2
    bar_width = WIDTH / len(BARS)
    for index, colour in enumerate(BARS):
        frame[:bar_height, int(index * bar_width) : int((index + 1) * bar_width)] = colour

    # Bottom half: a horizontal gradient that scrolls, so every frame differs.
    xs = (np.arange(WIDTH) + int(t * 120)) % WIDTH
    ramp = (xs * 255 // (WIDTH - 1)).astype(np.uint8)
    bottom = frame[bar_height:]
    bottom[:, :, 0] = ramp[None, :] // 3
    bottom[:, :, 1] = ramp[None, :] // 2
    bottom[:, :, 2] = ramp[None, :]

    # A white box bouncing across the whole card.
    size = 36
    span_x, span_y = WIDTH - size, HEIGHT - size
    bx = int(abs((t * 170) % (2 * span_x) - span_x))
    by = int(abs((t * 110) % (2 * span_y) - span_y))
    frame[by : by + size, bx : bx + size] = (245, 245, 245)
    frame[by + 6 : by + size - 6, bx + 6 : bx + size - 6] = (20, 20, 20)

    # Label on a dark plate, and a seconds counter.
    label, scale = "WAN 2.6 SANDBOX", 3
    width = text_width(label, scale)
    lx, ly = (WIDTH - width) // 2, bar_height - 7 * scale // 2
    frame[ly - 8 : ly + 7 * scale + 8, lx - 10 : lx + width + 10] = (16, 16, 16)
    draw_text(frame, label, lx, ly, scale, (255, 255, 255))
    counter = f"{t:.1f}s"
    draw_text(frame, counter, WIDTH - text_width(counter, 2) - 10, HEIGHT - 24, 2, (255, 255, 255))
    return frame


def main(output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(output), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream(
            "libx264",
            rate=FPS,
            options={"crf": "30", "preset": "slow", "profile": "main", "threads": "1", "tune": "animation"},
        )
        stream.width, stream.height = WIDTH, HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, FPS)
        for number in range(FRAMES):
            frame = av.VideoFrame.from_ndarray(render_frame(number), format="rgb24")
            frame.pts = number
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    print(f"wrote {output} ({output.stat().st_size} bytes, {FRAMES} frames at {FPS} fps)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT)
