"""The meta-learned neural member: a shipped initialization adapted to the task, ensembled.

:class:`NeuralMember` encodes the training rows with :class:`~autometa.tasks.TabularEncoder`
(the same encoder, with the same ``d_max``/``c_max``, that built every meta-training task),
then builds ``n_ensemble`` *views* of the task: each view puts the encoded columns at random
positions of the ``d_max``-wide input and relabels the classes with a random permutation,
exactly as :func:`random_view` does for meta-training tasks. All views are adapted at once,
as one :class:`~autometa.tasks.TaskBatch` of ``n_ensemble`` tasks, by the meta-learner's own
inner loop (MAML / Meta-SGD steps, or the Meta-LSTM learned optimizer, in the learners'
inference mode) starting from the meta-learned initialization. Predictions undo each view's label permutation and average the
probabilities.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import numpy as np

from autometa._utils import resolve_device
from autometa.tasks import TabularEncoder
from autometa.tasks._split import stratified_sample
from autometa.tasks._views import place, random_view

if TYPE_CHECKING:
    from autometa.estimators._context import FitContext

__all__ = ["MAX_ADAPT_ROWS", "VIEW_ROWS", "NeuralMember", "random_view", "stratified_subsample"]

#: rows the encoder is fitted on; larger training sets are stratified-subsampled for the net
MAX_ADAPT_ROWS = 1024
#: support rows of one view: the largest support set the shipped learners were meta-trained on
#: (16 to 256 rows); above it every view adapts on its own stratified subsample, so the views
#: together still see the rows
VIEW_ROWS = 256


def learner_dims(learner: Any) -> tuple[int, int]:
    """``(d_max, c_max)`` of a learner (:func:`autometa.meta._checkpoint.learner_dims`), required here."""
    from autometa.meta._checkpoint import learner_dims as _dims

    d_max, c_max = _dims(learner)
    if d_max is None or c_max is None:
        raise ValueError(
            f"{type(learner).__name__} exposes no d_max/c_max (neither itself nor its base net)."
        )
    return int(d_max), int(c_max)


def stratified_subsample(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a stratified subsample of ``n`` rows (every class keeps a row).

    All rows when ``len(y) <= n``; otherwise :func:`autometa.tasks._split.stratified_sample`.
    """
    if len(y) <= n:
        return np.arange(len(y))
    return np.sort(stratified_sample(y, n, rng))


class NeuralMember:
    """Adapt a meta-learned net to the task over several views; average their probabilities.

    Parameters
    ----------
    learner : MetaLearner
        A gradient-based meta-learner with ``d_max``, ``c_max``, ``adapt(batch, steps=...)``
        and ``predict(fast, x, batch)`` (MAML, Meta-SGD, ANIL, Meta-LSTM...).
    n_views : int
        Ensemble size.
    steps : int or None
        Inner steps (``None``: the learner's own ``inner_steps``).
    augment : bool, default=True
        When ``learner`` is an :class:`~autometa.augment.AugmentedLearner`, adapt each view
        on its support rows augmented by the learner's meta-learned policy (every view gets
        its own augmentation draw, from a generator seeded by ``fit``'s ``seed``). ``False``
        adapts the policy's base learner on the real rows only.
    name : str, default="neural"
        The member's name in the blend.
    """

    def __init__(
        self,
        learner: Any,
        n_views: int = 8,
        steps: int | None = None,
        augment: bool = True,
        name: str = "neural",
    ) -> None:
        self.learner = learner
        self.n_views = int(n_views)
        self.steps = steps
        self.augment = bool(augment)
        self.name = name

    def fit(self, context: FitContext, y: np.ndarray, seed: int) -> NeuralMember:
        """Encode ``context.frame`` and adapt ``n_views`` views of the task to class indices ``y``
        (on ``context.device``, see :func:`autometa._utils.resolve_device`; the adapted weights
        are kept on the CPU)."""
        import torch

        from autometa.tasks._task import TaskBatch

        df, n_classes, device = context.frame, context.n_classes, context.device
        rng = np.random.default_rng(seed)
        d_max, c_max = learner_dims(self.learner)
        if n_classes > c_max:
            raise ValueError(
                f"The neural member supports at most c_max={c_max} classes; got {n_classes}."
            )
        rows = stratified_subsample(y, MAX_ADAPT_ROWS, rng)
        df, y = df.iloc[rows], y[rows]
        self.encoder_ = TabularEncoder(d_max, c_max, random_state=0).fit(df, y)
        x, mask = self.encoder_.transform(df)
        views = [random_view(d_max, n_classes, rng) for _ in range(self.n_views)]
        self.slots_ = np.stack([v[0] for v in views])
        self.label_perm_ = np.stack([v[1] for v in views])
        xs, ms, ys = [], [], []
        for slots, perm in views:
            sub = stratified_subsample(y, VIEW_ROWS, rng)
            xv, mv = place(x[sub], mask, slots)
            yv = perm[y[sub]]
            xs.append(np.asarray(xv, dtype=np.float32))
            ys.append(np.asarray(yv, dtype=np.int64))
            ms.append(mv)
        self.view_rows_ = [len(v) for v in ys]
        n_rows = max(self.view_rows_)
        xb = np.zeros((self.n_views, n_rows, d_max), dtype=np.float32)
        yb = np.zeros((self.n_views, n_rows), dtype=np.int64)
        rb = np.zeros((self.n_views, n_rows), dtype=bool)
        for v in range(self.n_views):
            k = len(ys[v])
            xb[v, :k], yb[v, :k], rb[v, :k] = xs[v], ys[v], True
        self.feature_mask_ = np.stack(ms)
        self.n_classes_ = int(n_classes)
        dev = resolve_device(device)
        self.learner.to(dev)
        try:
            batch = TaskBatch.for_inference(
                torch.from_numpy(xb).to(dev), torch.from_numpy(yb).to(dev), n_classes=n_classes, c_max=c_max,
                feature_mask=torch.from_numpy(self.feature_mask_).to(dev), support_mask=torch.from_numpy(rb).to(dev),
            )  # fmt: skip
            self.fast_ = detach_cpu(self._adapt_views(batch, seed, dev))
        finally:
            self.learner.to("cpu")
        return self

    def _adapt_views(self, batch: Any, seed: int, device: Any) -> Any:
        import torch

        from autometa.augment import AugmentedLearner

        learner = self.learner
        if isinstance(learner, AugmentedLearner):
            if not self.augment:
                return adapt_views(learner.base, batch, self.steps)
            generator = torch.Generator(device=device).manual_seed(int(seed))
            with torch.enable_grad():  # a hypernetwork base adapts with its own (graph) inner loop
                return learner.adapt(batch, steps=self.steps, generator=generator, inference=True)
        return adapt_views(learner, batch, self.steps)

    def predict_proba(self, context: FitContext) -> np.ndarray:
        """Probabilities ``[n, n_classes]`` of ``context``'s rows, averaged over the adapted views."""
        import torch

        from autometa.tasks._task import TaskBatch

        x, mask = self.encoder_.transform(context.frame)
        d_max, c_max = learner_dims(self.learner)
        xq = np.stack([place(x, mask, s)[0] for s in self.slots_])
        batch = TaskBatch.for_inference(
            torch.zeros(self.n_views, 0, d_max), torch.zeros(self.n_views, 0, dtype=torch.long), torch.from_numpy(xq),
            n_classes=self.n_classes_, c_max=c_max, feature_mask=torch.from_numpy(self.feature_mask_),
        )  # fmt: skip
        with torch.no_grad():
            logits = self.learner.predict(self.fast_, batch.x_query, batch)[..., : self.n_classes_]
            p = torch.softmax(logits.double(), dim=-1).numpy()  # [V, n, K], permuted class slots
        out = np.zeros((x.shape[0], self.n_classes_))
        for v in range(self.n_views):
            out += p[v][:, self.label_perm_[v]]
        return out / self.n_views


def adapt_views(learner: Any, batch: Any, steps: int | None) -> Any:
    """The learner's own inner loop on every view of ``batch``, at inference time.

    Gradient learners (MAML family, Meta-LSTM) run it in their inference mode (no graph for a
    meta-gradient; :func:`autometa.functional.adapt` with ``inference=True``); other learners
    (hypernetworks) run their ``adapt``.
    """

    import torch

    from autometa.meta import GradientLearner

    if isinstance(learner, GradientLearner):
        return learner.adapt(batch, steps=steps, inference=True)
    n_steps = int(getattr(learner, "inner_steps", 1) if steps is None else steps)
    kwargs = {"steps": n_steps} if "steps" in inspect.signature(learner.adapt).parameters else {}
    with torch.enable_grad():
        return learner.adapt(batch, **kwargs)


def detach_cpu(tree: Any) -> Any:
    import torch

    if isinstance(tree, torch.Tensor):
        return tree.detach().cpu().contiguous()
    if isinstance(tree, dict):
        return {k: detach_cpu(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(detach_cpu(v) for v in tree)
    return tree
