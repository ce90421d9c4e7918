"""``autometa meta-train``: meta-train any registered learner on a task pool.

The same command runs on one CPU, one GPU, or data-parallel under ``torchrun``
(``torchrun --nproc_per_node N -m autometa meta-train ...``): each rank draws the same
global batch of tasks and trains on its shard; only rank 0 prints, logs and checkpoints.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any

HELP = "Meta-train a learner on a task pool (resumable, tracked, torchrun-ready)."
DESCRIPTION = """Meta-train a meta-learner on a pool of tasks.

Checkpoints (last.pt, best.pt) and a learning-curve plot go to --checkpoint-dir; parameters,
metrics and checkpoints are logged to MLflow ($MLFLOW_TRACKING_URI, else ./mlruns). A killed
run continues exactly where it stopped with --resume; a folder that holds a run is refused
unless --resume or --overwrite says what to do with it."""
EPILOG = """examples:
  autometa meta-train --algo maml --pool synthetic --steps 1000
  autometa meta-train --algo meta-lstm --pool synthetic@0.5,keel-dev@0.5 --val-pool keel-dev --steps 20000 --device auto
  autometa meta-train --algo protonet --pool episodic:letter:5way1shot --steps 2000 --learner-kw net='{"kind": "mlp", "d_max": 16, "c_max": 5, "hidden": [64]}'
  autometa meta-train --algo maml --steps 20000 --checkpoint-dir runs/maml --resume      # continue a killed run
  autometa meta-train --algo maml --steps 20000 --checkpoint-dir runs/maml --overwrite   # start that folder again
  torchrun --nproc_per_node 2 -m autometa meta-train --algo maml --pool synthetic --steps 1000
"""

_DEFAULT_CKPT_ROOT = Path("runs") / "meta-train"
#: where each --preset keeps its state unless --checkpoint-dir says otherwise (the campaigns'
#: folders hold their committed state, so a plain --preset in-context continues it)
PRESET_DIRS = {
    "default": Path("runs") / "classifier-default",
    "in-context": Path("campaigns") / "in-context",
    "in-context-regression": Path("campaigns") / "in-context-regression",
    "in-context-v2": Path("campaigns") / "in-context-v2",
    "in-context-v2-gpu": Path("campaigns") / "in-context-v2-gpu",
    "in-context-regression-v2": Path("campaigns") / "in-context-regression-v2",
    "in-context-regression-spacing": Path("campaigns") / "in-context-regression-spacing",
    "in-context-regression-v2-linear": Path("campaigns") / "in-context-regression-v2-linear",
    "in-context-regression-v2-ridge": Path("campaigns") / "in-context-regression-v2-ridge",
    "in-context-v2-ridge": Path("campaigns") / "in-context-v2-ridge",
    "in-context-regression-v2-expert": Path("campaigns") / "in-context-regression-v2-expert",
    "in-context-v2-expert": Path("campaigns") / "in-context-v2-expert",
}


def default_checkpoint_dir(args: argparse.Namespace, run_name: str | None = None) -> Path:
    """The one rule for ``--checkpoint-dir``'s default: a preset's folder, else ``runs/meta-train/<run name>``."""
    if args.checkpoint_dir is not None:
        return Path(args.checkpoint_dir)
    if args.preset is not None:
        return PRESET_DIRS[args.preset]
    return _DEFAULT_CKPT_ROOT / str(run_name)


def _algo_choices() -> list[str]:
    from autometa.meta import LEARNERS

    return sorted(name for name in LEARNERS if name != "augmented")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _hidden(text: str) -> list[int]:
    try:
        widths = [int(w) for w in text.replace(" ", "").split(",") if w]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer widths such as 64,64; got {text!r}"
        ) from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"layer widths must be positive; got {text!r}")
    return widths


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(
            f"expected key=value (value as JSON or text), got {text!r}"
        )
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip().replace("-", "_"), value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``autometa meta-train``."""
    algos = _algo_choices()
    g = parser.add_argument_group("what to train")
    g.add_argument("--algo", metavar="ALGO", help=f"meta-learning algorithm: {', '.join(algos)}")
    g.add_argument(
        "--preset",
        choices=tuple(PRESET_DIRS),
        default=None,
        help="'default' reproduces the classifier's shipped checkpoint (autometa/checkpoints/model_card.json): "
        "meta-training on the dev pool, then the model-family portfolio; --steps, --seed, "
        "--checkpoint-dir, --resume and --no-mlflow apply. 'in-context' runs (or continues) the in-context "
        "learner's long campaign (autometa/meta/_campaign.py) in --checkpoint-dir (default "
        "campaigns/in-context) for --steps total steps or --hours more hours; it always resumes. "
        "'in-context-regression' does the same for the regression learner (default campaigns/in-context-regression); "
        "'in-context-v2' for the per-cell learner v2 (Muon, weight averaging; default campaigns/in-context-v2); "
        "'in-context-v2-gpu' the same recipe at GPU scale (bf16 on CUDA); 'in-context-regression-v2' the "
        "regression learner on the v2 backbone; 'in-context-regression-spacing' the v1 regression recipe reading "
        "z-score columns beside rank-Gauss, on a prior with skewed inputs; 'in-context-regression-v2-linear' "
        "the regression v2 recipe with linear functions in half the synthetic tasks (branch it from "
        "campaigns/in-context-regression-v2 with --checkpoint-dir and --cooldown-steps); "
        "'in-context-regression-v2-ridge' the regression v2 learner with a ridge read-in (start it with "
        "--grow-from campaigns/in-context-regression-v2); 'in-context-v2-ridge' the same for the classifier "
        "(--grow-from campaigns/in-context-v2); 'in-context-regression-v2-expert' / 'in-context-v2-expert' add the "
        "ridge expert on the logits (--grow-from the -ridge campaigns)",
    )
    g.add_argument(
        "--ship",
        action="store_true",
        help="--preset in-context: afterwards write the campaign's learner to autometa/checkpoints/"
        "classifier_in_context.pt with its model card (learning curve, data, compute, peers on the same splits)",
    )
    g.add_argument(
        "--tta-steps",
        type=int,
        default=0,
        help="with --ship: meta-train test-time Meta-LSTM steps on the learner's head for this many outer "
        "steps, measure them on the held-out tables, and ship them only if they add at every size",
    )
    g.add_argument(
        "--cooldown-steps",
        type=int,
        default=None,
        help="--preset in-context(-regression): branch the campaign into <checkpoint-dir>-cooldown and decay "
        "its learning rate linearly to 0 over this many steps (continues a killed cool-down; ship with "
        "--checkpoint-dir <that directory> --ship)",
    )
    g.add_argument(
        "--cooldown-dir",
        type=Path,
        default=None,
        help="with --cooldown-steps: the branch's directory instead of <checkpoint-dir>-cooldown (for a "
        "second cool-down from a later step of the same constant-rate run)",
    )
    g.add_argument(
        "--grow-from",
        type=Path,
        default=None,
        metavar="DIR",
        help="--preset in-context-*: start the preset's campaign (in --checkpoint-dir) from the committed "
        "state of the campaign in DIR, whose recipe it shares except for the learner's configuration; the "
        "parameters the preset's learner adds start at their initial values (a read-in at zero), everything "
        "else continues DIR's run. Ignored once the campaign has a curve of its own.",
    )
    g.add_argument(
        "--hours",
        type=_positive_float,
        default=None,
        help="--preset in-context: wall-clock budget of this session in hours (instead of, or with, --steps)",
    )
    g.add_argument(
        "--pool",
        default="synthetic",
        help="training pool spec (default: synthetic; see `autometa info`)",
    )
    g.add_argument(
        "--val-pool",
        default=None,
        help="meta-validation pool spec; default: --pool with split=val; 'none' disables validation",
    )
    g.add_argument(
        "--pool-seed",
        type=int,
        default=0,
        help="seed of the data-set train/val partition (default 0)",
    )
    g.add_argument(
        "--d-max", type=_positive_int, default=32, help="encoded feature width (default 32)"
    )
    g.add_argument(
        "--c-max", type=_positive_int, default=10, help="largest number of classes (default 10)"
    )
    g.add_argument(
        "--hidden", type=_hidden, default=[64, 64], help="base MLP hidden widths (default 64,64)"
    )
    g.add_argument(
        "--net",
        choices=("auto", "mlp", "conv4"),
        default="auto",
        help="base net: auto = conv-4 for image pools (episodic:digits, images:...), else MLP",
    )
    g.add_argument(
        "--inner-steps",
        type=_positive_int,
        default=None,
        help="inner-loop steps (learners that have them)",
    )
    g.add_argument(
        "--inner-lr",
        type=_positive_float,
        default=None,
        help="inner-loop step size (learners that have it)",
    )
    g.add_argument(
        "--learner-kw",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra learner constructor argument, VALUE parsed as JSON (repeatable), e.g. first_order=true",
    )
    g.add_argument(
        "--augment",
        choices=("none", "learned"),
        default="none",
        help="'learned': adapt on support sets augmented by a meta-learned policy (autometa.augment)",
    )
    t = parser.add_argument_group("outer loop")
    t.add_argument(
        "--steps",
        type=int,
        default=None,
        help="total outer steps (a resumed run continues up to it); required except with --hours",
    )
    t.add_argument(
        "--meta-batch-size",
        type=_positive_int,
        default=16,
        help="tasks per outer step, all ranks together",
    )
    t.add_argument(
        "--lr", type=_positive_float, default=1e-3, help="outer learning rate (default 1e-3)"
    )
    t.add_argument("--optimizer", choices=("adam", "adamw", "sgd"), default="adam")
    t.add_argument(
        "--lr-schedule",
        choices=("constant", "cosine"),
        default="constant",
        help="outer learning-rate schedule",
    )
    t.add_argument(
        "--warmup-steps", type=int, default=0, help="linear learning-rate warm-up steps (default 0)"
    )
    t.add_argument("--grad-clip", type=_positive_float, default=None, help="clip the gradient norm")
    t.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N")
    t.add_argument(
        "--amp",
        choices=("auto", "bf16", "fp16", "off"),
        default="auto",
        help="mixed precision (CUDA only)",
    )
    t.add_argument(
        "--seed", type=int, default=0, help="seed of the task stream and initialization (default 0)"
    )
    t.add_argument(
        "--task-workers",
        type=int,
        choices=(0, 1),
        default=0,
        help="1: draw the tasks in a worker process ahead of the training step (the same task stream "
        "bit for bit, so a run may switch it at a resume; its CPU time counts in a campaign's CPU-hours)",
    )
    c = parser.add_argument_group("validation, checkpoints, tracking")
    c.add_argument(
        "--eval-every", type=_positive_int, default=100, help="steps between meta-validations"
    )
    c.add_argument(
        "--val-tasks", type=_positive_int, default=64, help="fixed meta-validation tasks"
    )
    c.add_argument(
        "--patience",
        type=_positive_int,
        default=None,
        help="early stopping: validations without improvement",
    )
    c.add_argument(
        "--checkpoint-dir",
        type=Path,
        default=None,
        help=f"where last.pt/best.pt go (default {_DEFAULT_CKPT_ROOT}/<run name>; with --preset: "
        + ", ".join(f"{k}: {v}" for k, v in PRESET_DIRS.items())
        + ")",
    )
    c.add_argument(
        "--checkpoint-every", type=_positive_int, default=100, help="steps between checkpoints"
    )
    c.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        metavar="PATH",
        help="continue from --checkpoint-dir/last.pt (or from PATH) when it exists",
    )
    c.add_argument(
        "--overwrite",
        action="store_true",
        help="start again from step 0 in a --checkpoint-dir that holds a run (deletes its last.pt, best.pt "
        "and learning curve); without --resume or --overwrite such a folder is refused",
    )
    c.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    c.add_argument("--experiment", default="autometa-meta-train", help="MLflow experiment name")
    c.add_argument("--run-name", default=None, help="MLflow run name (default: <algo>-<pool>)")
    c.add_argument(
        "--log-model", action="store_true", help="log the best learner as an MLflow pyfunc model"
    )
    c.add_argument(
        "--register-model",
        default=None,
        metavar="NAME",
        help="also register it in the MLflow model registry",
    )
    c.add_argument(
        "--log-every", type=_positive_int, default=10, help="steps between MLflow metric logs"
    )
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.add_argument(
        "--save", type=Path, default=None, help="also save the final learner to this file"
    )


def build_learner_from_args(
    args: argparse.Namespace, image_shape: tuple[int, int, int] | None = None
) -> Any:
    """Instantiate ``--algo`` with the options its constructor accepts.

    The base net is an MLP of width ``--d-max``, or, with ``image_shape`` (image pools), a
    conv-4 net for images of that shape; ``--learner-kw net=...`` overrides both.

    Raises
    ------
    ValueError
        For an unknown algorithm, an option the learner does not take, or a bad value.
    """
    from autometa.meta import LEARNERS

    algo = args.algo
    if algo not in LEARNERS or algo == "augmented":
        raise ValueError(
            f"Unknown meta-learning algorithm {algo!r}; choose one of {', '.join(_algo_choices())}."
        )
    cls = LEARNERS[algo]
    params = inspect.signature(cls.__init__).parameters
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = sorted(
        n for n in params if n != "self" and params[n].kind is not inspect.Parameter.VAR_KEYWORD
    )
    kwargs: dict[str, Any] = {}
    if "net" in params and image_shape is not None:
        kwargs["net"] = {
            "kind": "conv4",
            "image_shape": [int(v) for v in image_shape],
            "c_max": args.c_max,
        }
    elif "net" in params:
        kwargs["net"] = {
            "kind": "mlp",
            "d_max": args.d_max,
            "c_max": args.c_max,
            "hidden": list(args.hidden),
        }
    else:
        for name in ("d_max", "c_max"):
            if name in params:
                kwargs[name] = getattr(args, name)
    for name, value, flag in (
        ("inner_steps", args.inner_steps, "--inner-steps"),
        ("inner_lr", args.inner_lr, "--inner-lr"),
    ):
        if value is None:
            continue
        if name not in params and not accepts_any:
            raise ValueError(
                f"{flag} does not apply to --algo {algo} (its options: {', '.join(accepted)})."
            )
        kwargs[name] = value
    for key, value in args.learner_kw:
        if key not in params and not accepts_any:
            raise ValueError(
                f"--learner-kw {key}=...: {algo} has no option {key!r} (its options: {', '.join(accepted)})."
            )
        kwargs[key] = value
    try:
        learner = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Cannot build {algo} from {kwargs}: {exc}") from exc
    if args.augment == "learned":
        try:
            from autometa.augment import AugmentedLearner
        except (ImportError, AttributeError) as exc:
            raise ValueError(
                f"--augment learned needs autometa.augment.AugmentedLearner, which is not available ({exc})."
            ) from exc
        learner = AugmentedLearner.from_learner(learner, seed=args.seed)
    return learner


def _make_pools(args: argparse.Namespace, d_max: int, c_max: int) -> tuple[Any, Any]:
    from autometa.tasks import make_pool

    def make(spec: str, split: str) -> Any:
        try:
            pool = make_pool(spec, d_max=d_max, c_max=c_max, split=split, seed=args.pool_seed)
        except (ValueError, KeyError, FileNotFoundError) as exc:
            raise ValueError(f"Bad pool spec {spec!r}: {exc}") from exc
        if getattr(pool, "spec", None) is None:
            try:
                pool.spec = spec
            except AttributeError:  # pragma: no cover - frozen pools keep their name
                pass
        return pool

    pool = make(args.pool, "train")
    val_spec = args.pool if args.val_pool is None else args.val_pool
    val_pool = None if val_spec.strip().lower() == "none" else make(val_spec, "val")
    return pool, val_pool


def check_run_folder(ckpt_dir: Path, *, resume: bool | str, overwrite: bool) -> None:
    """Refuse to start a fresh run over another run's checkpoints unless told what to do.

    Parameters
    ----------
    ckpt_dir : Path
        The run's checkpoint folder.
    resume : bool or str
        ``--resume``: the folder's run is continued, nothing to refuse.
    overwrite : bool
        ``--overwrite``: delete the previous run's files (on rank 0) and start from step 0.

    Raises
    ------
    ValueError
        If the folder holds ``last.pt`` or ``best.pt`` and neither flag was given, or both were.
    """
    from autometa.meta._checkpoint import BEST_FILE, CURVE_FILE, LAST_FILE  # pulls in torch

    if resume and overwrite:
        raise ValueError(
            f"--resume continues the run in {ckpt_dir} and --overwrite deletes it: pass one of them."
        )
    existing = [
        name for name in (LAST_FILE, BEST_FILE) if (ckpt_dir / name).is_file()
    ]  # these make it "a run"
    if resume or not existing:
        return
    if not overwrite:
        raise ValueError(
            f"{ckpt_dir} already holds a run ({', '.join(existing)}). Continue it with --resume, start it again "
            "from step 0 with --overwrite (deletes its checkpoints), or choose another --checkpoint-dir."
        )
    if _is_main():
        for name in (LAST_FILE, BEST_FILE, CURVE_FILE):
            (ckpt_dir / name).unlink(missing_ok=True)


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _run_preset(args: argparse.Namespace) -> int:
    """``--preset default``: the recipe of the classifier's shipped checkpoints."""
    from autometa.estimators.train_default import DefaultRecipe

    recipe = DefaultRecipe(
        steps=args.steps,
        seed=args.seed,
        out=default_checkpoint_dir(args),
        resume=bool(args.resume),
        tracking=not args.no_mlflow,
    )
    command = f"autometa meta-train --preset default --steps {recipe.steps} --seed {recipe.seed} --checkpoint-dir {recipe.out}"
    recipe.run(
        command=command
        + (" --resume" if recipe.resume else "")
        + (" --no-mlflow" if not recipe.tracking else "")
    )
    return 0


def _run_campaign(args: argparse.Namespace) -> int:
    """``--preset in-context``: run or continue the in-context learner's campaign."""
    from autometa.meta._campaign import CAMPAIGN_PRESETS, InContextCampaign

    cooling = args.cooldown_steps is not None
    if args.steps is None and args.hours is None and not args.ship and not cooling:
        raise ValueError(
            "--preset in-context needs --steps (total outer steps) or --hours (this session's budget)."
        )
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be a positive integer; got {args.steps}.")
    if args.cooldown_dir is not None and not cooling:
        raise ValueError(
            "--cooldown-dir names a cool-down branch; give it with --cooldown-steps N."
        )
    if cooling and args.cooldown_steps < 1:
        raise ValueError(f"--cooldown-steps must be a positive integer; got {args.cooldown_steps}.")
    campaign = InContextCampaign(
        default_checkpoint_dir(args),
        **CAMPAIGN_PRESETS[args.preset](),
        seed=args.seed,
        tracking=not args.no_mlflow,
        device=args.device,
        task_workers=args.task_workers,
    )
    if args.grow_from is not None:
        if cooling:
            raise ValueError("--grow-from and --cooldown-steps start different branches; give one.")
        campaign = campaign.grow_from(args.grow_from)
    if cooling:
        campaign = campaign.cooldown_branch(args.cooldown_steps, args.cooldown_dir)
        print(
            f"cool-down of {campaign.directory}: steps {campaign.cooldown[0]} -> {campaign.cooldown[1]}",
            file=sys.stderr,
        )
    if args.steps is not None or args.hours is not None or cooling:
        campaign.run(steps=args.steps, hours=args.hours)
    if args.ship:
        if campaign.task == "regression":
            _ship_regression_campaign(campaign, args.preset)
        else:
            _ship_campaign(campaign, tta_steps=args.tta_steps)
    return 0


def _campaign_command(campaign: Any, preset: str, ship: str) -> str:
    """The commands that produced ``campaign``'s learner, for its model card."""
    from autometa.meta._campaign import cooldown_directory

    if campaign.cooldown is None:
        if campaign.grown_at is not None:
            return f"{_grown_history(campaign.directory, preset)}, then --checkpoint-dir {campaign.directory} {ship}"
        return (f"autometa meta-train --preset {preset} --hours H --checkpoint-dir {campaign.directory} "
                f"(resumed across sessions), then --checkpoint-dir {campaign.directory} {ship}")  # fmt: skip
    start, end = campaign.cooldown
    base = campaign.origin
    base_preset = _stored_preset(base) or preset  # a branch may train on another preset's prior
    switch = "" if base_preset == preset else f" --preset {preset}"
    default_branch = cooldown_directory(base)
    branch = (
        ""
        if Path(campaign.directory) == default_branch
        else f" --cooldown-dir {campaign.directory}"
    )
    history = (
        _grown_history(base, base_preset, until=start)
        if _stored(base).get("grown_at") is not None
        else f"autometa meta-train --preset {base_preset} --hours H --checkpoint-dir {base} (resumed across sessions, "
        f"to step {start})"
    )
    return (
        f"{history}, then{switch} --checkpoint-dir {base} --cooldown-steps {end - start}{branch} "
        f"(branch {campaign.directory}), then{switch} --checkpoint-dir {campaign.directory} {ship}"
    )


def _stored(directory: Any) -> dict[str, Any]:
    """The ``curve.json`` of the campaign in ``directory`` ({} where there is none)."""
    path = Path(directory) / "curve.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _grown_history(directory: Any, preset: str, until: int | None = None) -> str:
    """How a grown branch (``--grow-from``) in ``directory`` was trained, to step ``until``."""
    stored = _stored(directory)
    origin, start = stored["branched_from"], stored["grown_at"]
    origin_preset = _stored_preset(origin) or preset
    to = "" if until is None else f", to step {until}"
    return (
        f"autometa meta-train --preset {origin_preset} --hours H --checkpoint-dir {origin} (resumed across "
        f"sessions, to step {start}), then --preset {preset} --checkpoint-dir {directory} --grow-from {origin} "
        f"--hours H (resumed across sessions{to})"
    )


def _stored_preset(directory: Any) -> str | None:
    """The preset whose recipe the campaign in ``directory`` records (its ``curve.json``), if any."""
    from autometa.meta._campaign import CAMPAIGN_PRESETS

    stored = _stored(directory)
    if not stored:
        return None
    keys = ("task", "algo", "learner_config", "prior_config")
    for name, make in CAMPAIGN_PRESETS.items():
        recipe = json.loads(json.dumps(make()))  # tuples as the JSON stores them
        if all(recipe.get(k, {} if k.endswith("config") else None) == stored.get(k) for k in keys):
            return name
    return None


def _machine(campaign: Any) -> str:
    """Where the campaign trained, for its model card (a campaign with no recorded device ran on the CPU)."""
    gpus = [d for d in campaign.devices if not d.startswith("cpu")]
    where = f"also trained on {', '.join(gpus)}" if gpus else "no GPU"
    return f"{os.cpu_count()}-core CPU ({platform.machine()}), one torch thread, shared with other jobs; {where}"


def _ship_regression_campaign(campaign: Any, preset: str = "in-context-regression") -> None:
    """Write the regression campaign's learner and model card into the package's checkpoints folder."""

    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import RidgeCV

    from autometa.estimators._in_context_regression_member import IN_CONTEXT_REGRESSOR_CHECKPOINT
    from autometa.meta._campaign import export_in_context, plot_curve
    from autometa.meta._held_out import held_out_r2

    seeds = campaign.eval_seeds
    datasets, sizes = campaign.eval_datasets, campaign.eval_sizes
    references = {
        "rf300": held_out_r2(
            lambda: RandomForestRegressor(300, n_jobs=1, random_state=0),
            datasets,
            sizes,
            seeds=seeds,
        ),
        "ridge": held_out_r2(
            lambda: RidgeCV(alphas=(0.1, 1.0, 10.0, 100.0)), datasets, sizes, seeds=seeds
        ),
    }
    learner, curve = campaign.snapshot()
    info = export_in_context(
        campaign,
        IN_CONTEXT_REGRESSOR_CHECKPOINT,
        IN_CONTEXT_REGRESSOR_CHECKPOINT.with_name("regressor_in_context_model_card.json"),
        learner=learner,
        curve=curve,
        command=_campaign_command(campaign, preset, "--ship"),
        machine=_machine(campaign),
        references=references,
    )
    plot_curve(curve, references, campaign.directory / "r2_curve.png", metric="r2")
    print(
        f"shipped {info['file']} (step {info['training']['steps']}, {info['training']['cpu_hours']} CPU-hours)"
    )


def _ship_campaign(campaign: Any, tta_steps: int = 0) -> None:
    """Write the campaign's learner and model card into the package's checkpoints folder."""

    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from autometa.estimators._in_context_member import IN_CONTEXT_CHECKPOINT
    from autometa.meta._campaign import export_in_context, plot_curve, train_tta
    from autometa.meta._held_out import held_out_auc

    seeds = campaign.eval_seeds
    references = {
        "rf300": held_out_auc(
            lambda: RandomForestClassifier(300, n_jobs=1, random_state=0), seeds=seeds
        ),
        "logreg": held_out_auc(lambda: LogisticRegression(max_iter=1000), seeds=seeds),
    }
    learner, curve = campaign.snapshot()
    extra: dict[str, Any] = {}
    if tta_steps > 0:
        shutil.rmtree(
            campaign.directory / "tta", ignore_errors=True
        )  # steps for this snapshot only
        tta, scores = train_tta(
            learner, campaign.directory / "tta", steps=tta_steps, seed=campaign.seed
        )
        adds = all(
            scores["meta_trained_steps"][k] > scores["in_context"][k] for k in scores["in_context"]
        )
        extra["test_time_adaptation"] = {
            "what": "Meta-LSTM steps on the head from a meta-learned head init, 2-fold cross-fitted support loss",
            "inner_steps": tta.steps, "outer_steps": tta_steps, "held_out_auc": scores, "shipped": adds,
        }  # fmt: skip
        if adds:
            learner = tta
    info = export_in_context(
        campaign,
        IN_CONTEXT_CHECKPOINT,
        IN_CONTEXT_CHECKPOINT.with_name("in_context_model_card.json"),
        learner=learner,
        curve=curve,
        extra=extra,
        command=_campaign_command(campaign, "in-context", f"--ship --tta-steps {tta_steps}"),
        machine=_machine(campaign),
        references=references,
    )
    plot_curve(curve, references, campaign.directory / "auc_curve.png")
    print(
        f"shipped {info['file']} (step {info['training']['steps']}, {info['training']['cpu_hours']} CPU-hours)"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``autometa meta-train``; return the exit code (``autometa.cli`` reports errors)."""
    from autometa.meta import (
        CheckpointConfig,
        MetaTrainer,
        OptimizerConfig,
        ScheduleConfig,
        TrackingConfig,
        ValidationConfig,
        save_meta_learner,
    )
    from autometa.meta._checkpoint import learner_dims

    if args.preset in PRESET_DIRS and args.preset != "default":
        return _run_campaign(args)
    if args.steps is None:
        raise ValueError("--steps is required (total outer steps of the run).")
    if args.preset is not None:
        if args.steps < 1:
            raise ValueError(f"--steps must be a positive integer; got {args.steps}.")
        return _run_preset(args)
    if not args.algo:
        raise ValueError("choose what to train: --algo ALGO (see --help) or --preset default.")

    if args.steps < 1:
        raise ValueError(f"--steps must be a positive integer; got {args.steps}.")
    if args.checkpoint_dir is not None:  # refuse before the pools are built (seconds)
        check_run_folder(Path(args.checkpoint_dir), resume=args.resume, overwrite=args.overwrite)
    from autometa._utils import seed_everything

    seed_everything(args.seed)  # the learner's initial weights depend on --seed only
    learner = build_learner_from_args(args)
    d_max, c_max = learner_dims(learner)
    pool, val_pool = _make_pools(args, d_max or args.d_max, c_max or args.c_max)
    explicit_net = any(key == "net" for key, _ in args.learner_kw)
    image_shape = getattr(pool, "image_shape", None)
    if args.net == "conv4" and image_shape is None and not explicit_net:
        raise ValueError(
            f"--net conv4 needs an image pool (episodic:digits, images:<folder>); {args.pool!r} is tabular."
        )
    if not explicit_net and image_shape is not None and args.net in ("auto", "conv4"):
        seed_everything(args.seed)
        learner = build_learner_from_args(args, image_shape=tuple(image_shape))
    elif not explicit_net and getattr(pool, "d_max", d_max) != d_max:
        # image pools fix their width (C*H*W): an MLP on the flattened pixels
        args.d_max = int(pool.d_max)
        seed_everything(args.seed)
        learner = build_learner_from_args(args)
    pool_name = str(getattr(pool, "name", args.pool)).replace("/", "-").replace(":", "-")
    run_name = (
        args.run_name or f"{args.algo}{'-aug' if args.augment == 'learned' else ''}-{pool_name}"
    )
    ckpt_dir = default_checkpoint_dir(args, run_name)
    check_run_folder(ckpt_dir, resume=args.resume, overwrite=args.overwrite)
    trainer = MetaTrainer(
        learner,
        pool,
        meta_batch_size=args.meta_batch_size,
        device=args.device,
        amp=args.amp,
        seed=args.seed,
        progress=not args.no_progress,
        optimizer=OptimizerConfig(args.optimizer, lr=args.lr, grad_clip=args.grad_clip),
        schedule=ScheduleConfig(args.lr_schedule, warmup_steps=args.warmup_steps),
        checkpoints=CheckpointConfig(ckpt_dir, every=args.checkpoint_every),
        tracking=TrackingConfig(
            enabled=not args.no_mlflow,
            experiment=args.experiment,
            run_name=run_name,
            log_every=args.log_every,
            log_model=args.log_model,
            registered_model_name=args.register_model,
        ),
        validation=ValidationConfig(
            val_pool, every=args.eval_every, tasks=args.val_tasks, patience=args.patience
        ),
    )
    trainer.task_workers = args.task_workers
    resume = args.resume if args.resume is True or args.resume is False else Path(args.resume)
    finished = False
    try:
        result = trainer.fit(args.steps, resume=resume)
        if args.save is not None and _is_main():
            save_meta_learner(
                result.learner,
                args.save,
                metadata={
                    "command": " ".join(["autometa", "meta-train", *sys.argv[2:]]),
                    "steps": result.steps,
                    "pool": args.pool,
                    "best_val_loss": result.best_val_loss,
                },
            )
        finished = True
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            if finished:  # after a failure the other ranks may never arrive: no barrier then
                # every rank leaves together: a rank that tears gloo down while another still
                # holds its connections makes that one abort ("terminate called without an
                # active exception", tests/meta/test_meta_cli.py::test_python_m_and_torchrun)
                dist.barrier()
            dist.destroy_process_group()
    if _is_main():
        last = result.history[-1] if result.history else {}
        summary = {
            "algo": args.algo,
            "steps": result.steps,
            "resumed_from": result.resumed_from,
            "stopped_early": result.stopped_early,
            "meta_train_loss": last.get("meta_train/loss"),
            "best_step": result.best_step,
            "best_val_loss": result.best_val_loss,
            "checkpoint_dir": str(ckpt_dir),
            "best_checkpoint": str(result.best_checkpoint) if result.best_checkpoint else None,
            "last_checkpoint": str(result.last_checkpoint) if result.last_checkpoint else None,
            "mlflow_run_id": result.run_id,
            "model_uri": result.model_uri,
        }
        width = max(len(k) for k in summary)
        for key, value in summary.items():
            if isinstance(value, float):
                value = f"{value:.4f}"
            print(f"{key:<{width}}  {value}")
    return 0
