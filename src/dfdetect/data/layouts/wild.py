"""Datasets labelled (and split) by source folder: UADFV, FFIW, WildDeepfake, DF40."""

from __future__ import annotations

from typing import ClassVar

from dfdetect.data.layouts.base import SPLITS, DatasetLayout, RawVideo, VideoInfo, unknown_source
from dfdetect.data.samples import FAKE, REAL

SourceTable = dict[str, tuple[int, str | None]]  # source folder -> (label, split or None)


class _BySource(DatasetLayout):
    """Label (and optionally split) looked up from an explicit source-folder table."""

    sources: ClassVar[SourceTable] = {}
    split_default: str | None = "test"

    def describe(self, source: str, video: str) -> VideoInfo:
        if source not in self.sources:
            raise unknown_source(self, source, self.sources)
        label, split = self.sources[source]
        return VideoInfo(label, split or self.split_default)


class UADFV(_BySource):
    """UADFV: ``real/NNNN.mp4`` and ``fake/NNNN_fake.mp4`` (each fake paired with its real)."""

    name, display = "uadfv", "UADFV"
    sources: ClassVar[SourceTable] = {"real": (REAL, None), "fake": (FAKE, None)}

    def describe(self, source: str, video: str) -> VideoInfo:
        info = super().describe(source, video)
        if info.label == FAKE and video.endswith("_fake"):
            return VideoInfo(FAKE, info.split, pair=video.removesuffix("_fake"))
        return info


class FFIW(_BySource):
    """FFIW-10K: raw ``source/<split>`` real and ``target/<split>`` fake. Crops live under
    ``source-<split>``/``target-<split>`` (as extracted) or ``source``/``target``.
    """

    name, display = "ffiw", "FFIW"
    sources: ClassVar[SourceTable] = {
        "source": (REAL, None),
        "target": (FAKE, None),
        **{f"source-{s}": (REAL, s) for s in SPLITS},
        **{f"target-{s}": (FAKE, s) for s in SPLITS},
    }

    def is_raw(self) -> bool:
        return bool(self.raw_videos())

    def raw_videos(self) -> list[RawVideo]:
        return [
            RawVideo(f"{kind}-{split}", p.stem, p)
            for kind in ("source", "target")
            for split in SPLITS
            if (self.root / kind / split).is_dir()
            for p in sorted((self.root / kind / split).glob("*.mp4"))
        ]


class WildDeepfake(_BySource):
    """WildDeepfake: frame sequences in ``{real,fake}_{train,test}`` folders."""

    name, display = "wdf", "WDF"
    sources: ClassVar[SourceTable] = {
        "real_train": (REAL, "train"),
        "real_test": (REAL, "test"),
        "fake_train": (FAKE, "train"),
        "fake_test": (FAKE, "test"),
    }


# DF40's 40 generation methods (face swapping, reenactment, entire-face synthesis, editing).
DF40_METHODS = (
    "blendface",
    "e4s",
    "facedancer",
    "faceswap",
    "fsgan",
    "inswap",
    "mobileswap",
    "simswap",
    "uniface",
    "facevid2vid",
    "fomm",
    "hyperreenact",
    "lia",
    "mcnet",
    "MRAA",
    "one_shot_free",
    "pirender",
    "sadtalker",
    "tpsm",
    "wav2lip",
    "DiT",
    "SiT",
    "StyleGAN2",
    "StyleGAN3",
    "StyleGANXL",
    "VQGAN",
    "ddim",
    "pixart",
    "rddm",
    "sd2.1",
    "CollabDiff",
    "e4e",
    "MidJourney",
    "stargan",
    "starganv2",
    "styleclip",
    "whichfaceisreal",
    "deepfacelab",
    "heygen",
)


class DF40(_BySource):
    """DF40 test crops, one folder per method (all fake); real videos come from FF++/CDF.

    DF40 also ships DeepfakeBench JSON files: the ``deepfakebench`` layout reads those.
    """

    name, display = "df40", "DF40"
    sources: ClassVar[SourceTable] = {
        "real": (REAL, None),
        **dict.fromkeys(DF40_METHODS, (FAKE, None)),
    }
