"""``dfdetect train --config FILE.yaml [key=value ...]``: LayerNorm-tune a detector.

Under torchrun (``torchrun --nproc-per-node N -m dfdetect train ...``) every process joins the
process group from the environment.
"""

from __future__ import annotations

import argparse
import sys

from dfdetect.cli.exits import EXIT_INPUTS_FAILED, EXIT_OK, fail


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect train``."""
    from dfdetect.train.config import preset_names

    parser.add_argument(
        "--config",
        required=True,
        help=f"YAML file or preset name ({', '.join(preset_names())}); defaults fill what it "
        "leaves out",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="config overrides, value in YAML (e.g. optim.lr=1e-4 run.out=runs/x)",
    )
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved config and exit"
    )
    parser.add_argument(
        "--device",
        default=None,
        help="cpu, cuda, cuda:N, mps (default: run.device, else cuda when present)",
    )


def run(args: argparse.Namespace) -> int:
    """Resolve the config and train; returns the exit code."""
    from dfdetect.errors import DfdetectError
    from dfdetect.train.config import dump_config, resolve_config

    try:
        config = resolve_config(args.config, args.overrides)
        if args.device is not None:
            config["run"]["device"] = args.device
        if args.print_config:
            print(dump_config(config), end="")
            return EXIT_OK
        from dfdetect.model.device import check_device
        from dfdetect.train import distributed
        from dfdetect.train.settings import TrainConfig
        from dfdetect.train.trainer import Trainer

        settings = TrainConfig.from_dict(config)
        check_device(settings.run.device)
        trainer = Trainer(settings)
        try:
            out = trainer.fit()
        finally:
            distributed.teardown(trainer.info)
    except (DfdetectError, OSError) as exc:  # 2 config or data, 3 model, 4 device or output
        return fail("train", exc)
    if trainer.info.is_main:
        best = out / "checkpoints" / "best"
        print(f"run folder: {out}")
        print(f"best checkpoint: {best if best.is_dir() else out / 'checkpoints' / 'last'}")
        if trainer.failures:  # the run went on without them
            n, report = len(trainer.failures), out / "failures.csv"
            print(f"dfdetect train: {n} unreadable crops were skipped: {report}", file=sys.stderr)
            return EXIT_INPUTS_FAILED
    return EXIT_OK
