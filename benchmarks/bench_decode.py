"""Decoding cost of a fixed number of sampled frames against video length, ``--seek exact``
vs ``--seek keyframe``, side by side in one run.

Writes 1280x720 H.264 clips (x264 ultrafast) of the given lengths (25 fps, a keyframe every
250 frames, no scene-cut keyframes; textured frames drifting sideways), then for each clip and
mode opens a :class:`~dfdetect.media.VideoReader` and reads the frames a scan would (``even``
sampling); median wall time of ``--repeats`` runs and the number of frames decoded.

    python benchmarks/bench_decode.py --seconds 10 60 300 --frames 32
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dfdetect.media import VideoReader, keyframe_positions, sample_frame_indices
from dfdetect.media.synthetic import background, write_video

FPS, GOP, WIDTH, HEIGHT = 25, 250, 1280, 720


class CountingReader(VideoReader):
    """A VideoReader that counts the frames it decodes."""

    decoded = 0

    def _decode(self) -> Iterator:
        for frame in super()._decode():
            self.decoded += 1
            yield frame


def write_clip(path: Path, seconds: int) -> Path:
    """``seconds`` of textured 720p video, drifting 4 px per frame."""
    base = background(HEIGHT, WIDTH + 4 * 100, seed=0)
    frames = (base[:, 4 * (i % 100) : 4 * (i % 100) + WIDTH] for i in range(seconds * FPS))
    return write_video(
        path,
        frames,
        fps=FPS,
        gop=GOP,
        codec_options={"preset": "ultrafast", "x264-params": "scenecut=0"},
    )


def bench(path: Path, frames: int, seek: str, repeats: int) -> dict:
    times, decoded, got = [], 0, 0
    for _ in range(repeats):
        start = time.perf_counter()
        with CountingReader(path) as reader:
            wanted = sample_frame_indices(reader.n_frames, frames, "even")
            if seek == "keyframe":
                wanted = keyframe_positions(wanted, reader.keyframes, reader.n_frames)
            reader.decoded = 0  # opening decodes the first frame
            got = sum(1 for _ in reader.read(wanted))
            decoded = reader.decoded
        times.append(time.perf_counter() - start)
    return {"seek": seek, "frames": got, "decoded": decoded, "seconds": statistics.median(times)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, nargs="+", default=[10, 60, 300])
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="dfdetect-decode-") as tmp:
        for seconds in args.seconds:
            path = write_clip(Path(tmp) / f"{seconds}s.mp4", seconds)
            for seek in ("exact", "keyframe"):
                rows.append({"video_s": seconds, **bench(path, args.frames, seek, args.repeats)})
            path.unlink()
    shortest = {r["seek"]: r["seconds"] for r in rows if r["video_s"] == min(args.seconds)}
    table = Table(title=f"{args.frames} sampled frames of 720p H.264, keyframes {GOP} apart")
    for column in ("video s", "seek", "frames", "decoded", "seconds", "vs shortest clip"):
        table.add_column(column, justify="right")
    for r in rows:
        r["vs_shortest"] = r["seconds"] / shortest[r["seek"]]
        table.add_row(
            str(r["video_s"]), r["seek"], str(r["frames"]), str(r["decoded"]),
            f"{r['seconds']:.2f}", f"{r['vs_shortest']:.2f}x",
        )  # fmt: skip
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
