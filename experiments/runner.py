"""What every experiment shares: options, the output folder, devices, DDP, the training loop.

An experiment file keeps only its models, data and metrics. It declares a ``Config``
dataclass whose fields carry their command-line help and bounds (:func:`option`), and
this module turns it into a parser, validates every value before anything is written,
guards the output folder (a finished or different run is never overwritten without
``--overwrite``; ``--resume`` refuses a configuration change that would make the result
a lie), sets up the device and DDP (NCCL on CUDA, gloo on CPU), runs the step loop
(tqdm, gradient clipping, a non-finite guard, periodic evaluation, atomic checkpoints
and exact resume) and writes every output file by write-then-rename.

The division of work follows nanoGPT's ``train.py`` (one readable loop) rather than a
framework: PyTorch Lightning would bring DDP and checkpointing too, but not the
resume-equality and config guards these experiments need, and a dependency of its size
for three short loops is not worth it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import math
import os
import sys
import time
import typing
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from cunitary.optim import OptimizerGroup, clip_grad_value_

__all__ = [
    "RunError",
    "option",
    "parse_config",
    "Run",
    "start",
    "Progress",
    "Optimizers",
    "clip_grad_value_",
    "train",
    "save_atomically",
    "load_checkpoint",
    "write_text",
    "write_json",
    "write_csv",
    "save_figure",
    "markdown_table",
    "keyed_generator",
    "count_parameters",
]


class RunError(ValueError):
    """A refused command line, output folder or checkpoint; the message says what to do."""


# -- options -------------------------------------------------------------------------------


def option(
    default: Any,
    help: str,  # noqa: A002 - argparse's own name
    *,
    choices: Sequence[Any] | None = None,
    minimum: float | None = None,
    cli: bool = True,
    allow_empty: bool = False,
) -> Any:
    """A ``Config`` field with its command-line help, allowed values and lower bound.

    List defaults are copied per instance. ``minimum`` applies to every element of a list.
    ``cli=False`` keeps the field out of the command line (presets still set it); a list
    must hold at least one value unless ``allow_empty``.
    """
    meta = {"help": help, "choices": choices, "minimum": minimum, "cli": cli,
            "allow_empty": allow_empty}  # fmt: skip
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def _cli_type(hint: Any) -> tuple[type, bool] | None:
    """(element type, is_list) of a field type the command line can express."""
    if hint in (int, float, str):
        return hint, False
    if typing.get_origin(hint) is list:
        (inner,) = typing.get_args(hint)
        if inner in (int, float, str):
            return inner, True
    return None


def _check_value(name: str, value: Any, meta: Mapping[str, Any]) -> None:
    flag = f"--{name.replace('_', '-')}"
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value and not meta.get("allow_empty"):
        raise RunError(f"{flag} needs at least one value")
    choices, minimum = meta.get("choices"), meta.get("minimum")
    for v in values:
        if choices is not None and v not in choices:
            raise RunError(f"{flag} must be one of {list(choices)}, got {v!r}")
        if minimum is not None and isinstance(v, (int, float)):
            if not (math.isfinite(v) and v >= minimum):
                raise RunError(f"{flag} must be a finite number >= {minimum}, got {v!r}")


def _out_folder(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("--out must name a folder, got an empty string")
    return Path(text)


def parse_config(
    config_cls: type,
    presets: Mapping[str, Mapping[str, Any]],
    argv: Sequence[str] | None,
    description: str,
    default_preset: str,
    validate: Callable[[Any], None] | None = None,
) -> tuple[Any, argparse.Namespace]:
    """Parse ``argv`` into ``(config, args)``: preset first, then every option given.

    Every field is checked against its :func:`option` bounds, then ``validate(config)``
    (which raises :class:`RunError` for cross-field rules); a violation exits with a usage
    message before anything is written.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--preset", choices=sorted(presets), default=default_preset)
    parser.add_argument("--out", type=_out_folder, required=True, help="output folder")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its checkpoints"
    )
    mode.add_argument(
        "--overwrite", action="store_true", help="start again in an --out that holds a run"
    )
    parser.add_argument(
        "--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1'"
    )
    parser.add_argument(
        "--amp", action="store_true", help="bf16 autocast for the real-valued ops (CUDA)"
    )
    hints = typing.get_type_hints(config_cls)
    for f in fields(config_cls):
        kind = _cli_type(hints[f.name])
        if not f.metadata.get("cli", True) or kind is None:
            continue
        inner, is_list = kind
        parser.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            type=inner,
            nargs=("*" if f.metadata.get("allow_empty") else "+") if is_list else None,
            choices=f.metadata.get("choices"),
            help=f.metadata.get("help"),
        )
    args = parser.parse_args(argv)
    values = {
        f.name: f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        for f in fields(config_cls)
    }
    values.update(presets[args.preset])
    values.update({k: v for k, v in vars(args).items() if k in values and v is not None})
    config = config_cls(**values)
    try:
        for f in fields(config_cls):
            _check_value(f.name, getattr(config, f.name), f.metadata)
        if validate is not None:
            validate(config)
        resolve_device(args.device)
    except RunError as error:
        parser.error(str(error))
    return config, args


# -- device, DDP and the output folder -----------------------------------------------------


def resolve_device(name: str) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; anything else must exist here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise RunError(f"--device must be 'auto', 'cpu' or 'cuda[:k]', got {name!r}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RunError(f"--device {name}: CUDA is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise RunError(f"--device must be 'auto', 'cpu' or 'cuda[:k]', got {name!r}")
    return device


@dataclass
class Run:
    """Where and how this process trains: output folder, device, rank in the DDP group."""

    out: Path
    device: torch.device
    rank: int
    world: int
    resume: bool
    amp: bool
    fixed: dict[str, Any]  # the config entries a checkpoint must agree with
    # Field defaults: a run recorded before a field existed ran with its default.
    defaults: dict[str, Any] = field(default_factory=dict)

    def agrees(self, recorded: Mapping[str, Any]) -> bool:
        """Whether a checkpoint's recorded config is this run's fixed config."""
        known = {k: v for k, v in self.defaults.items() if k in self.fixed}
        return {**known, **recorded} == self.fixed

    @property
    def main(self) -> bool:
        return self.rank == 0

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast when ``--amp``: convolutions and matmuls on real tensors only
        (autocast leaves complex tensors, FFTs and the unitary maps in float32)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def _stored_config(out: Path) -> dict[str, Any] | None:
    path = out / "config.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunError(f"{path} is not readable JSON ({error}); use another --out") from error


def _field_defaults(config: Any) -> dict[str, Any]:
    defaults = {}
    for f in fields(config):
        if f.default is not MISSING:
            defaults[f.name] = f.default
        elif f.default_factory is not MISSING:
            defaults[f.name] = f.default_factory()
    return defaults


def _check_out(
    out: Path,
    config: dict,
    resume: bool,
    overwrite: bool,
    may_change: set[str],
    defaults: Mapping[str, Any],
):
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out} exists and is not a folder")
    stored = _stored_config(out)
    if resume and stored is None:
        raise RunError(f"--resume: {out} holds no run (no config.json); drop --resume to start one")
    if stored is None or overwrite:
        return stored, {}
    if not resume:
        raise RunError(
            f"{out} already holds a run (config.json); pass --resume to continue it, "
            "--overwrite to start it again, or choose another --out"
        )
    before = {**defaults, **stored.get("config", {})}
    changed = {k: [before.get(k), v] for k, v in config.items() if before.get(k) != v}
    refused = sorted(set(changed) - may_change)
    if refused:
        detail = ", ".join(f"{k}: {changed[k][0]!r} -> {changed[k][1]!r}" for k in refused)
        raise RunError(
            f"--resume would change what {out} measured ({detail}); only "
            f"{sorted(may_change)} may change on resume. Use another --out or --overwrite."
        )
    return stored, changed


@contextlib.contextmanager
def start(config: Any, args: argparse.Namespace, may_change: Sequence[str]) -> Iterator[Run]:
    """Set up the device, DDP and ``args.out``; write ``config.json``; clean up after.

    ``may_change``: the config fields a ``--resume`` may change (e.g. ``steps``, to chain
    budgets); any other difference from the stored run is refused. Checkpoints record the
    rest, so a stale checkpoint is refused as well. A field the stored run does not record
    (an option added since) counts as its default: that is what the run used.
    """
    device = resolve_device(args.device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = 0
    if world > 1:  # launched by torchrun
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = dist.get_rank()
    try:
        values = asdict(config)
        # Every rank checks, so that a refusal stops them all instead of hanging a barrier.
        defaults = _field_defaults(config)
        stored, changed = _check_out(
            args.out, values, args.resume, args.overwrite, set(may_change), defaults
        )
        if args.resume and bool(stored.get("amp", False)) != bool(args.amp):
            was = "with" if stored.get("amp") else "without"
            raise RunError(
                f"--resume: {args.out} was trained {was} --amp; resume it the same way (mixed "
                "and full precision in one run would measure neither)"
            )
        # Saturated gates leave subnormal floats behind, which x86 CPUs compute on far more
        # slowly: a trained LSTM's step took four times an untrained one's. Flushing them
        # to zero changes values below float32's 1.2e-38 only.
        flush = device.type == "cpu" and torch.set_flush_denormal(True)
        here = {"world_size": world, "device": str(device), "amp": bool(args.amp),
                "flush_denormal": bool(flush)}  # fmt: skip
        if world > 1:
            dist.barrier()  # every rank has read the folder before rank 0 writes to it
        if rank == 0:
            (args.out / "checkpoints").mkdir(parents=True, exist_ok=True)
            if args.resume and stored is not None:
                record = {**stored, "config": values}
                record["resumes"] = [*stored.get("resumes", []), {**here, "changed": changed}]
            else:
                record = {"config": values, "preset": args.preset, **here,
                          "torch": torch.__version__}  # fmt: skip
            write_json(args.out / "config.json", record)
        fixed = {k: v for k, v in values.items() if k not in set(may_change)}
        run = Run(args.out, device, rank, world, bool(args.resume), bool(args.amp), fixed, defaults)
        run.barrier()
        try:
            yield run
        except RunError:
            # A resume refused by a checkpoint leaves the record as it found it.
            if rank == 0 and args.resume and stored is not None:
                write_json(args.out / "config.json", stored)
            raise
    finally:
        if device.type == "cpu":
            torch.set_flush_denormal(False)  # torch's default, for whatever runs next
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def cli(main: Callable[[], Any]) -> None:
    """Run ``main()`` and turn a :class:`RunError` into ``error: ...`` and exit status 2."""
    try:
        main()
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


# -- the training loop ---------------------------------------------------------------------


@dataclass
class Progress:
    """What a run has done: the training history, its evaluations and its wall time."""

    step: int = 0
    history: list[list[float]] = field(default_factory=list)  # [step, loss, *extras]
    curve: list[list[float]] = field(default_factory=list)  # [step, *evaluation]
    seconds: float = 0.0  # training steps only, evaluation excluded


class Optimizers(OptimizerGroup):
    """The library's :class:`~cunitary.optim.OptimizerGroup`, whose mismatch with a
    checkpoint is the runner's error."""

    def load_state_dict(self, state: dict) -> None:
        try:
            super().load_state_dict(state)
        except ValueError as error:
            raise RunError(f"checkpoint: {error}") from error


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer | Optimizers,
    batch_loss: Callable[[nn.Module, int], Sequence[torch.Tensor]],
    run: Run,
    *,
    steps: int,
    checkpoint: Path,
    checkpoint_every: int,
    clip: float = 0.0,
    clip_value: float = 0.0,
    until: Callable[[Progress], bool] | None = None,
    scheduler: Any | None = None,
    evaluate: Callable[[int], Sequence[float]] | None = None,
    eval_every: int = 0,
    desc: str = "",
) -> Progress:
    """Train ``model`` to ``steps`` steps, resuming from ``checkpoint`` when ``run.resume``.

    ``batch_loss(model, step)`` returns ``(loss, *extras)`` for training step ``step``
    (``model`` is the DDP wrapper under torchrun); draw its batch from
    :func:`keyed_generator` so that a resumed run sees the same batches. ``clip > 0``
    clips the gradient norm, ``clip_value > 0`` every gradient element (after the norm).
    ``until(progress)``, checked after every step (and on resume), ends training early
    when it returns True; the last state is checkpointed. A non-finite gradient norm
    stops the run with the step and the last checkpoint named (every rank sees the same
    all-reduced norm). Every ``eval_every`` steps ``evaluate(step)`` appends a row to
    ``Progress.curve``; ``scheduler`` (if any) is stepped by ``evaluate`` and
    checkpointed here.
    """
    progress = Progress()
    if run.resume and checkpoint.exists():
        state = load_checkpoint(checkpoint)
        if not run.agrees(state.get("config", {})):
            raise RunError(
                f"checkpoint {checkpoint} was written by a run with another configuration; "
                "use --overwrite to train it again"
            )
        if state["progress"]["step"] > steps:
            raise RunError(
                f"checkpoint {checkpoint} is at step {state['progress']['step']}, past "
                f"--steps {steps}; resume with --steps >= {state['progress']['step']}"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        progress = Progress(**state["progress"])
    wrapped = model
    if run.world > 1:
        ids = [run.device] if run.device.type == "cuda" else None
        wrapped = DistributedDataParallel(model, device_ids=ids)
    if until is not None and until(progress):
        return progress
    bar = tqdm(range(progress.step, steps), desc=desc, initial=progress.step, total=steps,
               disable=not run.main, leave=False)  # fmt: skip
    for step in bar:
        tick = time.perf_counter()
        with run.autocast():
            loss, *extras = batch_loss(wrapped, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # Norm, not value, clipping: clip_grad_value_ rejects complex parameters.
        norm = nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else math.inf)
        if not torch.isfinite(norm):
            raise FloatingPointError(
                f"{desc}: non-finite gradient norm ({float(norm)}) at step {step} (loss "
                f"{loss.item()}); {checkpoint} holds the last good state"
            )
        if clip_value > 0:
            clip_grad_value_(model.parameters(), clip_value)
        optimizer.step()
        value = loss.item()
        progress.seconds += time.perf_counter() - tick
        progress.history.append([step, value, *(float(e) for e in extras)])
        progress.step = done = step + 1
        bar.set_postfix(loss=f"{value:.4g}", refresh=False)
        if evaluate is not None and eval_every > 0 and done % eval_every == 0:
            progress.curve.append([done, *evaluate(done)])
        stop = until is not None and until(progress)
        if until is not None and run.world > 1:
            stop = _rank0_decides(stop, run)  # each rank's loss is its own batch's
        if run.main and (done % checkpoint_every == 0 or done == steps or stop):
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "progress": asdict(progress), "config": run.fixed}  # fmt: skip
            if scheduler is not None:
                state["scheduler"] = scheduler.state_dict()
            save_atomically({**state, "sha256": state_digest(state)}, checkpoint)
        if stop:
            break
    return progress


def _rank0_decides(flag: bool, run: Run) -> bool:
    """Rank 0's ``flag`` on every rank, so that all ranks stop at the same step (a rank
    that stopped alone would leave the others waiting in DDP's all-reduce)."""
    decision = torch.tensor([float(flag)], device=run.device)
    dist.broadcast(decision, src=0)
    return bool(decision.item())


# -- files ---------------------------------------------------------------------------------


def _replace(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary sibling and rename: a kill leaves the old file or the new."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # One name per writer: two processes writing one file never share a temporary.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as error:  # a full disk: say which file, keep the old one
        # torch.save reports a short write as RuntimeError("[enforce fail ...] unexpected
        # pos"), naming no file.
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        raise RunError(
            f"could not write {path} ({reason}); the previous version, if any, is intact. "
            "Free space or choose another --out, then --resume"
        ) from error
    finally:
        tmp.unlink(missing_ok=True)


def save_atomically(obj: Any, path: Path) -> None:
    """``torch.save`` by write-then-rename."""
    _replace(path, lambda tmp: torch.save(obj, tmp))


def state_digest(state: Any) -> str:
    """SHA-256 of a checkpoint's contents: every tensor's dtype, shape and bytes, and every
    other value's ``repr``, in order. Stored in the checkpoint and checked on load, so a
    corrupted file (a flipped byte loads silently otherwise) is refused."""
    digest = hashlib.sha256()

    def walk(value: Any) -> None:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, Mapping):
            digest.update(b"{")
            for key in value:
                digest.update(repr(key).encode())
                walk(value[key])
            digest.update(b"}")
        elif isinstance(value, list | tuple):
            digest.update(b"[")
            for item in value:
                walk(item)
            digest.update(b"]")
        else:
            digest.update(repr(value).encode())

    walk(state)
    return digest.hexdigest()


def load_checkpoint(path: Path) -> dict:
    """``torch.load(weights_only=True)``, with the path named when the file is unreadable
    or its contents do not match the checksum stored in it."""
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - a corrupted pickle raises almost any type
        raise RunError(
            f"cannot read checkpoint {path} ({type(e).__name__}: {e}); delete it or use --overwrite"
        ) from e
    if not isinstance(state, dict) or "progress" not in state:
        raise RunError(f"{path} is not a checkpoint of this experiment; use --overwrite")
    stored = state.pop("sha256", None)  # checkpoints written before checksums have none
    if stored is not None and stored != state_digest(state):
        raise RunError(
            f"checkpoint {path} is corrupted (its contents do not match its checksum); "
            "delete it or use --overwrite"
        )
    return state


def write_text(path: Path, text: str) -> None:
    _replace(path, lambda tmp: tmp.write_text(text))


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2) + "\n")


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def save_figure(fig: Any, path: Path, dpi: int = 100) -> None:
    """Save a matplotlib figure by write-then-rename and close it."""
    import matplotlib.pyplot as plt

    _replace(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=Path(path).suffix[1:]))
    plt.close(fig)


def hide_ticks(axes: Any) -> None:
    """No ticks on a grid of image panels."""
    for ax in np.asarray(axes).flat:
        ax.set_xticks([])
        ax.set_yticks([])


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-markdown table with aligned columns."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    return "\n".join(lines) + "\n"


# -- small shared helpers ------------------------------------------------------------------


def keyed_generator(*parts: object) -> torch.Generator:
    """A CPU generator seeded by ``parts`` (e.g. seed, task, step, rank).

    crc32, not ``hash()``: str hashes are salted per process, which would break resume.
    Batches are drawn on the CPU and moved, so a run draws the same data on any device.
    """
    key = zlib.crc32("/".join(str(p) for p in parts).encode())
    return torch.Generator().manual_seed(key)


def count_parameters(model: nn.Module) -> int:
    """Real parameters: a complex entry counts twice (its real and imaginary part)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
