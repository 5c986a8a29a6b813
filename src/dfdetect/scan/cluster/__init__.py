"""``dfdetect scan --engine ray``: the scan's stages on Ray Data, from a laptop to a cluster.

Sources are listed on the driver; CPU tasks hash, decode, detect and align; model actors
(loaded once, one per GPU when GPUs exist) score the crops of many files per call; CPU tasks
track faces and build verdicts; the driver writes the results (Parquet part files, JSONL or
CSV), which are also what a re-run resumes from. Nothing here imports Ray until a scan runs;
Ray is the ``[cluster]`` extra.
"""

from __future__ import annotations

from dfdetect.scan.cluster.options import ClusterOptions

__all__ = ["ClusterOptions"]
