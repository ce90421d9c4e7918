"""The meta-learned neural member: a shipped initialization adapted to the task, ensembled.

:class:`NeuralMember` encodes the training rows with :class:`~autometa.tasks.TabularEncoder`
(the same encoder, with the same ``d_max``/``c_max``, that built every meta-training task),
then builds ``n_ensemble`` *views* of the task: each view puts the encoded columns at random
positions of the ``d_max``-wide input and relabels the classes with a random permutation,
exactly as :func:`random_view` does for meta-training tasks. All views are adapted at once,
as one :class:`~autometa.tasks.TaskBatch` of ``n_ensemble`` tasks, by the meta-learner's own
inner loop (MAML / Meta-SGD steps, or the Meta-LSTM learned optimizer) starting from the
meta-learned initialization. Predictions undo each view's label permutation and average the
probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
        raise ValueError(f"{type(learner).__name__} exposes no d_max/c_max (neither itself nor its base net).")
    return int(d_max), int(c_max)


def random_view(d_max: int, n_classes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random placement of the ``d_max`` encoded columns and a random class relabeling.

    Returns
    -------
    slots : ndarray (d_max,)
        Encoded column ``j`` goes to input position ``slots[j]``.
    label_perm : ndarray (n_classes,)
        Class ``c`` becomes output ``label_perm[c]``.
    """
    return rng.permutation(d_max), rng.permutation(n_classes)


def place(x: np.ndarray, mask: np.ndarray, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Move encoded columns ``x[:, j]`` (and the mask) to positions ``slots[j]``."""
    out = np.zeros_like(x)
    out[..., slots] = x
    m = np.zeros_like(mask)
    m[slots] = mask
    return out, m


def stratified_subsample(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a stratified subsample of size about ``n`` (every class keeps a row)."""
    if len(y) <= n:
        return np.arange(len(y))
    classes, counts = np.unique(y, return_counts=True)
    take = np.maximum(1, np.floor(counts / len(y) * n).astype(int))
    idx = []
    for c, t in zip(classes, take, strict=True):
        rows = np.flatnonzero(y == c)
        idx.append(rng.choice(rows, size=min(t, len(rows)), replace=False))
    return np.sort(np.concatenate(idx))


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
        self, learner: Any, n_views: int = 8, steps: int | None = None, augment: bool = True, name: str = "neural"
    ) -> None:
        self.learner = learner
        self.n_views = int(n_views)
        self.steps = steps
        self.augment = bool(augment)
        self.name = name

    def fit(self, df: Any, y: np.ndarray, n_classes: int, seed: int, device: Any = "cpu") -> NeuralMember:
        """Encode ``df`` (a DataFrame), adapt ``n_views`` views of the task to labels ``y``."""
        import torch

        from autometa.tasks import TabularEncoder
        from autometa.tasks._task import TaskBatch

        rng = np.random.default_rng(seed)
        d_max, c_max = learner_dims(self.learner)
        if n_classes > c_max:
            raise ValueError(f"The neural member supports at most c_max={c_max} classes; got {n_classes}.")
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
        dev = torch.device(device)
        self.learner.to(dev)
        try:
            cm = torch.zeros(self.n_views, c_max, dtype=torch.bool)
            cm[:, :n_classes] = True
            batch = TaskBatch(
                x_support=torch.from_numpy(xb).to(dev),
                y_support=torch.from_numpy(yb).to(dev),
                support_mask=torch.from_numpy(rb).to(dev),
                x_query=torch.zeros(self.n_views, 0, d_max, device=dev),
                y_query=torch.zeros(self.n_views, 0, dtype=torch.long, device=dev),
                query_mask=torch.zeros(self.n_views, 0, dtype=torch.bool, device=dev),
                feature_mask=torch.from_numpy(self.feature_mask_).to(dev),
                class_mask=cm.to(dev),
                n_classes=torch.full((self.n_views,), n_classes, dtype=torch.long, device=dev),
            )
            self.fast_ = _detach_cpu(self._adapt_views(batch, seed, dev))
        finally:
            self.learner.to("cpu")
        return self

    def _adapt_views(self, batch: Any, seed: int, device: Any) -> Any:
        import torch

        from autometa.augment import AugmentedLearner

        learner = self.learner
        if isinstance(learner, AugmentedLearner):
            if not self.augment:
                return _adapt(learner.base, batch, self.steps)
            generator = torch.Generator(device=device).manual_seed(int(seed))
            if not _has_batched_rule(learner.base):  # e.g. a hypernetwork: its own adapt
                with torch.enable_grad():
                    return learner.adapt(batch, steps=self.steps, generator=generator)
            with torch.no_grad():
                support = learner.augment(batch, generator)
            return _adapt(learner.base, batch, self.steps, support=support)
        return _adapt(learner, batch, self.steps)

    def predict_proba(self, df: Any) -> np.ndarray:
        """Probabilities ``[n, n_classes]`` averaged over the adapted views."""
        import torch

        from autometa.tasks._task import TaskBatch

        x, mask = self.encoder_.transform(df)
        d_max, c_max = learner_dims(self.learner)
        xq = np.stack([place(x, mask, s)[0] for s in self.slots_])
        cm = torch.zeros(self.n_views, c_max, dtype=torch.bool)
        cm[:, : self.n_classes_] = True
        batch = TaskBatch(
            x_support=torch.zeros(self.n_views, 0, d_max),
            y_support=torch.zeros(self.n_views, 0, dtype=torch.long),
            support_mask=torch.zeros(self.n_views, 0, dtype=torch.bool),
            x_query=torch.from_numpy(xq),
            y_query=torch.zeros(self.n_views, xq.shape[1], dtype=torch.long),
            query_mask=torch.ones(self.n_views, xq.shape[1], dtype=torch.bool),
            feature_mask=torch.from_numpy(self.feature_mask_),
            class_mask=cm,
            n_classes=torch.full((self.n_views,), self.n_classes_, dtype=torch.long),
        )
        with torch.no_grad():
            logits = self.learner.predict(self.fast_, batch.x_query, batch)[..., : self.n_classes_]
            p = torch.softmax(logits.double(), dim=-1).numpy()  # [V, n, K], permuted class slots
        out = np.zeros((x.shape[0], self.n_classes_))
        for v in range(self.n_views):
            out += p[v][:, self.label_perm_[v]]
        return out / self.n_views


def _adapt(learner: Any, batch: Any, steps: int | None, support: Any = None) -> Any:
    """The learner's inner loop on every view of ``batch``, at inference time.

    For gradient learners with an SGD, Meta-SGD or Meta-LSTM update rule, the views are
    adapted with one batched autograd call per step: the gradient of the summed per-view
    losses with respect to per-view parameters *is* each view's own gradient, and the three
    rules act coordinate by coordinate (the Meta-LSTM receives each view's loss at each of its
    coordinates), so this computes exactly what the learner's vmapped ``adapt`` computes,
    without the cost of vectorizing ``grad`` (no meta-gradient is needed at ``fit`` time).
    Other learners use their own ``adapt``.

    ``support`` (an :class:`~autometa.augment.AugmentedSupport`) replaces the batch's support
    rows with augmented ones whose soft labels are fitted with the soft cross-entropy.
    """
    import torch

    from autometa.functional._adapt import batched_forward
    from autometa.functional._losses import masked_cross_entropy
    from autometa.meta._meta_lstm import MetaLSTMRule

    n_steps = int(getattr(learner, "inner_steps", 1) if steps is None else steps)
    if not _has_batched_rule(learner):
        if support is not None:
            raise ValueError(f"{type(learner).__name__} adapts itself; pass the AugmentedLearner instead.")
        import inspect

        kwargs = {"steps": n_steps} if "steps" in inspect.signature(learner.adapt).parameters else {}
        with torch.enable_grad():
            return learner.adapt(batch, **kwargs)
    rule = learner.update_rule()
    names = learner.params_to_adapt() or list(learner.init_params())
    init = learner.init_params()
    n_views = batch.x_support.shape[0]
    cm = learner._class_mask(batch) if hasattr(learner, "_class_mask") else batch.class_mask
    if support is None:
        x, y, rows, loss_fn = batch.x_support, batch.y_support, batch.support_mask, masked_cross_entropy
    else:
        from autometa.augment._learner import soft_cross_entropy

        x, rows, loss_fn = support.x, support.row_mask, soft_cross_entropy
        y = support.y
        if y.shape[-1] < cm.shape[-1]:
            y = torch.cat([y, y.new_zeros(*y.shape[:-1], cm.shape[-1] - y.shape[-1])], -1)
    fast = {k: v.detach().unsqueeze(0).expand(n_views, *v.shape).clone() for k, v in init.items()}
    state = None
    with torch.enable_grad():
        for _ in range(n_steps):
            leaves = {k: fast[k].detach().requires_grad_(True) for k in names}
            logits = batched_forward(learner.net, {**fast, **leaves}, x, batch.feature_mask)
            losses = torch.vmap(loss_fn)(logits, y, rows, cm)
            grads = dict(zip(names, torch.autograd.grad(losses.sum(), [leaves[k] for k in names]), strict=True))
            if isinstance(rule, MetaLSTMRule):
                new, state = _lstm_views_step(rule, leaves, grads, losses.detach(), state)
            else:
                new, _ = rule(leaves, grads, losses.detach(), None)
            fast.update({k: v.detach() for k, v in new.items()})
    return fast


def _has_batched_rule(learner: Any) -> bool:
    """Whether :func:`_adapt` can run ``learner``'s inner loop batched (SGD, Meta-SGD, Meta-LSTM)."""
    from autometa.functional._adapt import SGD, MetaSGDRule
    from autometa.meta._meta_lstm import MetaLSTMRule

    if not (hasattr(learner, "update_rule") and hasattr(learner, "init_params")):
        return False
    return isinstance(learner.update_rule(), (SGD, MetaSGDRule, MetaLSTMRule))


def _lstm_views_step(rule: Any, params: dict, grads: dict, losses: Any, state: Any) -> tuple[dict, Any]:
    """One Meta-LSTM step on every view at once (parameters ``[V, ...]``, losses ``[V]``)."""
    import torch

    names = list(params)
    n_views = losses.shape[0]
    theta = torch.cat([params[k].reshape(n_views, -1) for k in names], dim=1)
    grad = torch.cat([grads[k].reshape(n_views, -1) for k in names], dim=1)
    n = theta.shape[1]
    loss = losses[:, None].expand(n_views, n).reshape(-1)
    flat_theta = theta.reshape(-1).detach()
    if state is None:
        state = rule.init_state({"theta": flat_theta})
    with torch.no_grad():
        f, i, state = rule.gates(flat_theta, grad.reshape(-1), loss, state)
        new = (f * flat_theta - i * grad.reshape(-1)).reshape(n_views, n)
    out, start = {}, 0
    for k in names:
        size = params[k][0].numel()
        out[k] = new[:, start : start + size].reshape(params[k].shape)
        start += size
    return out, state


def _detach_cpu(tree: Any) -> Any:
    import torch

    if isinstance(tree, torch.Tensor):
        return tree.detach().cpu().contiguous()
    if isinstance(tree, dict):
        return {k: _detach_cpu(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_detach_cpu(v) for v in tree)
    return tree
