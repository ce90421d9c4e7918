"""Hypernetwork meta-learners: a set encoder over the support set writes the task's weights.

:class:`HyperNet` (``algo="hypernet"``) reads a task's whole support set in one forward
pass and returns fast weights for the base net (a
:class:`~autometa.functional.MaskedMLP` or :class:`~autometa.functional.Conv4`):

1. Every support row is embedded with the base net's learned initialization,
   ``e_i = features(x_i)``, and concatenated with its one-hot label.
2. A permutation-invariant set encoder maps the rows to ``h_i`` (``encoder="deepsets"``:
   a row-wise MLP, Zaheer et al. 2017; ``encoder="attention"``: set-transformer blocks of
   masked self-attention, Lee et al. 2019) and pools them by masked means: a task context
   ``c = mean_i h_i`` and a class context ``z_k = mean_{i: y_i = k} h_i`` per class.
3. *FiLM* (Perez et al. 2018): ``c`` gives a per-unit scale and shift ``(1 + gamma, beta)``
   of the last hidden layer of the base net (the last linear layer of the MLP, the last
   batch-norm affine of the conv-4), modulating the learned initialization.
4. *Head generation*: for every class ``k``, an MLP of ``[z_k, c, mu_k]`` (``mu_k`` the
   class-mean embedding) writes the head row ``w_k`` and bias ``b_k``. With
   ``proto_residual=True`` the generated values are added to the ProtoNet-equivalent linear
   head ``w_k = mu_k, b_k = -|mu_k|^2 / 2`` (Snell et al. 2017, section 2.4), so training starts
   from a sensible classifier and the generator learns the correction.

A batch-norm base net (conv-4) normalizes the support set and the rows to classify each with
their own statistics, as in the MAML reference code; ``episode_batch_norm=True`` passes a
task's support and query rows through the net together instead (transductive batch norm;
query labels are never used).

Because the pooling is a masked mean and attention uses no positions, the output does not
depend on the order of support rows nor on padded rows; rows, feature columns (the MLP's
input mask) and classes (the head is written per class, absent classes are masked) may all
vary from task to task up to ``d_max`` and ``c_max``.

:class:`HyperNetMAML` (``algo="hypernet-maml"``) composes the hypernetwork with the
gradient-based learners: the generated weights are the *starting point* of a few inner steps
of :func:`autometa.functional.adapt` (plain SGD with a learned step size, Meta-SGD
per-entry step sizes, or the Meta-LSTM update rule), and
the meta-gradient flows through the steps into the hypernetwork.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, vmap

from autometa.functional._adapt import SGD, MetaSGDRule, Support, adapt
from autometa.functional._nets import Conv4, MaskedMLP
from autometa.meta._base import masked_predict, register_learner
from autometa.meta._meta_lstm import MetaLSTMRule
from autometa.meta._metric import (
    EmbeddingLearner,
    check_batch_width,
    check_choice,
    check_int_at_least,
    class_means,
    support_onehot,
)
from autometa.tasks._task import TaskBatch

__all__ = ["HyperNet", "HyperNetMAML", "SetEncoder"]


class _SetAttentionBlock(nn.Module):
    """Pre-norm set-attention block (SAB of the Set Transformer) with a key padding mask."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.ff = nn.Sequential(nn.Linear(width, 2 * width), nn.ReLU(), nn.Linear(2 * width, width))

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        a = self.norm1(h)
        out, _ = self.attn(a, a, a, key_padding_mask=~mask, need_weights=False)
        h = h + out
        return h + self.ff(self.norm2(h))


class SetEncoder(nn.Module):
    """Permutation-invariant encoder of a labelled set.

    Maps rows ``[T, S, in_dim]`` with a row mask ``[T, S]`` and one-hot labels ``[T, S, C]``
    to a task context ``[T, width]`` and class contexts ``[T, C, width]`` (masked means of
    the encoded rows over the whole set and over each class).

    Parameters
    ----------
    in_dim : int
        Width of a row (embedding plus one-hot label).
    width : int
        Width of the encoded rows.
    encoder : {"deepsets", "attention"}
        ``"deepsets"``: a two-layer row-wise MLP before pooling. ``"attention"``: a linear
        projection followed by ``depth`` masked set-attention blocks.
    depth : int
        Number of attention blocks (``encoder="attention"``).
    heads : int
        Attention heads; must divide ``width``.
    """

    def __init__(
        self, in_dim: int, width: int, encoder: str = "deepsets", depth: int = 2, heads: int = 4
    ) -> None:
        super().__init__()
        self.encoder = encoder
        if encoder == "deepsets":
            self.rows = nn.Sequential(
                nn.Linear(in_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU()
            )
            self.blocks = nn.ModuleList()
        else:
            self.rows = nn.Linear(in_dim, width)
            self.blocks = nn.ModuleList(_SetAttentionBlock(width, heads) for _ in range(depth))
        self.out_norm = nn.LayerNorm(width)

    def forward(self, rows: Tensor, mask: Tensor, onehot: Tensor) -> tuple[Tensor, Tensor]:
        h = self.rows(rows)
        for block in self.blocks:
            h = block(h, mask)
        h = self.out_norm(h)
        w = mask.unsqueeze(-1).to(h.dtype)
        context = (h * w).sum(1) / w.sum(1).clamp_min(1.0)
        return context, class_means(h, onehot)


def _film_targets(net: nn.Module) -> tuple[str, str] | None:
    """Names of the (weight, bias) the FiLM layer modulates, or None when the net has none."""
    if isinstance(net, MaskedMLP):
        if not net.hidden:
            return None
        i = len(net.body) - 1
        return f"body.{i}.weight", f"body.{i}.bias"
    if isinstance(net, Conv4):
        i = net.n_blocks - 1
        return f"body.{i}.1.weight", f"body.{i}.1.bias"  # the last batch-norm affine
    return None


@register_learner("hypernet")
class HyperNet(EmbeddingLearner):
    """Support set -> base-net weights in one forward pass (see the module docstring).

    Parameters
    ----------
    net : dict
        Base-net config, e.g. ``{"kind": "mlp", "d_max": 16, "c_max": 5, "hidden": [64, 64]}``
        or ``{"kind": "conv4", "image_shape": [1, 28, 28], "c_max": 5}``. Its parameters are
        the learned initialization the hypernetwork modulates.
    encoder : {"deepsets", "attention"}, default="deepsets"
        The set encoder.
    width : int, default=128
        Width of the set encoder and of the weight generator.
    depth : int, default=2
        Attention blocks (``encoder="attention"``).
    heads : int, default=4
        Attention heads (``encoder="attention"``); must divide ``width``.
    film : bool, default=True
        Modulate the last hidden layer of the base net from the task context. Needs a hidden
        layer (an MLP with ``hidden=[]`` has none).
    proto_residual : bool, default=True
        Add the generated head to the ProtoNet-equivalent linear head.
    episode_batch_norm : bool, default=False
        With a batch-norm base net, pass each task's support and query rows through the net
        together (shared episode statistics) instead of normalizing each set by itself.

    Examples
    --------
    >>> from autometa.meta import build_learner
    >>> hn = build_learner("hypernet", net={"kind": "mlp", "d_max": 4, "c_max": 3, "hidden": [8]}, width=16)
    >>> sorted(hn.get_config())
    ['depth', 'encoder', 'episode_batch_norm', 'film', 'heads', 'net', 'proto_residual', 'width']
    """

    def __init__(
        self,
        net: dict[str, Any],
        encoder: str = "deepsets",
        width: int = 128,
        depth: int = 2,
        heads: int = 4,
        film: bool = True,
        proto_residual: bool = True,
        episode_batch_norm: bool = False,
    ) -> None:
        # the embedding net without its head: the head is written per task by the generator,
        # so every parameter of the learner receives a meta-gradient (DDP requires it)
        super().__init__(net, episode_batch_norm)
        owner = type(self).__name__
        self.encoder_kind = check_choice(encoder, "encoder", ("deepsets", "attention"), owner)
        self.width = check_int_at_least(width, "width", owner)
        self.depth = check_int_at_least(depth, "depth", owner)
        self.heads = check_int_at_least(heads, "heads", owner)
        if self.encoder_kind == "attention" and self.width % self.heads:
            raise ValueError(f"{owner}: heads={self.heads} must divide width={self.width}.")
        self.film = bool(film)
        self.proto_residual = bool(proto_residual)
        e, w = self.embedding_dim, self.width
        self.set_encoder = SetEncoder(e + self.c_max, w, self.encoder_kind, self.depth, self.heads)
        self._film_names = _film_targets(self.net) if self.film else None
        if self.film:
            if self._film_names is None:
                raise ValueError(
                    f"{owner}: film=True needs a base net with a hidden layer to modulate; "
                    "give the MLP at least one hidden layer or pass film=False."
                )
            n_units = self.net.get_parameter(self._film_names[1]).shape[0]
            self.film_layer = nn.Linear(w, 2 * n_units)
            nn.init.zeros_(self.film_layer.weight)  # start at the identity modulation
            nn.init.zeros_(self.film_layer.bias)
        self.generator = nn.Sequential(nn.Linear(2 * w + e, w), nn.ReLU(), nn.Linear(w, e + 1))
        if self.proto_residual:
            last = self.generator[-1]
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)

    # -- the hypernetwork ----------------------------------------------------------------
    def encode(self, batch: TaskBatch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Encode the support sets: ``(context [T, W], class contexts [T, C, W], class-mean
        embeddings [T, C, E], one-hot labels [T, S, C])``."""
        check_batch_width(batch, self.c_max, type(self).__name__)
        onehot = support_onehot(batch)
        emb, _ = self.episode_embeddings(
            batch
        )  # batch-norm statistics of the whole episode when transductive
        label = F.pad(onehot, (0, self.c_max - onehot.shape[-1]))
        context, z = self.set_encoder(torch.cat([emb, label], dim=-1), batch.support_mask, onehot)
        return context, z, class_means(emb, onehot), onehot

    def adapt(self, batch: TaskBatch) -> dict[str, Tensor]:
        """Fast weights of the base net, batched ``[T, ...]``, written from the support sets."""
        context, z, mu, _ = self.encode(batch)
        t, c = z.shape[0], z.shape[1]
        fast = {k: v.unsqueeze(0).expand(t, *v.shape) for k, v in self.net.named_parameters()}
        if self._film_names is not None:
            w_name, b_name = self._film_names
            gamma, beta = self.film_layer(context).chunk(2, dim=-1)  # [T, units]
            scale = 1.0 + gamma
            w = fast[w_name]
            fast[w_name] = w * scale.reshape(t, -1, *([1] * (w.ndim - 2)))
            fast[b_name] = fast[b_name] * scale + beta
        gen_in = torch.cat([z, context.unsqueeze(1).expand(t, c, context.shape[-1]), mu], dim=-1)
        gen = self.generator(gen_in)  # [T, C, E + 1]
        weight, bias = gen[..., :-1], gen[..., -1]
        if self.proto_residual:
            weight = weight + mu
            bias = bias - 0.5 * (mu**2).sum(-1)
        fast["head.weight"], fast["head.bias"] = weight, bias
        return fast

    def forward_one(self, params: Mapping[str, Tensor], x: Tensor, feature_mask: Tensor) -> Tensor:
        """Logits ``[n, C]`` of one task's rows under its fast weights (body + generated head)."""
        body = {k: v for k, v in params.items() if not k.startswith("head.")}
        h = functional_call(self.net, body, (x, feature_mask))  # the body's features
        return F.linear(h, params["head.weight"], params["head.bias"])

    def predict(self, fast: dict[str, Tensor], x: Tensor, batch: TaskBatch) -> Tensor:
        if self.transductive:
            # a batch-norm net sees each task's support rows with the rows to classify, so the
            # statistics are the episode's (as in encode) rather than those of a 1-shot support set
            s = batch.x_support.shape[1]
            both = torch.cat([batch.x_support, x], dim=1)
            logits = vmap(self.forward_one)(fast, both, batch.feature_mask)[:, s:]
        else:
            logits = vmap(self.forward_one)(fast, x, batch.feature_mask)
        return masked_predict(logits, batch)

    def get_config(self) -> dict[str, Any]:
        return {
            "net": dict(self.net_config),
            "encoder": self.encoder_kind,
            **self.attributes("width", "depth", "heads", "film", "proto_residual"),
            "episode_batch_norm": self.episode_batch_norm,
        }


@register_learner("hypernet-maml")
class HyperNetMAML(HyperNet):
    """HyperNet output as the starting point of a few MAML inner steps.

    The hypernetwork writes per-task weights (:class:`HyperNet`), then
    :func:`autometa.functional.adapt` takes ``inner_steps`` gradient steps on each task's
    support loss from there; the query loss after the steps is back-propagated through the
    steps (second order unless ``first_order``) into the hypernetwork and the initialization.

    Parameters
    ----------
    net, encoder, width, depth, heads, film, proto_residual, episode_batch_norm
        As in :class:`HyperNet`.
    inner_steps : int, default=3
        Gradient steps after the hypernetwork (>= 1).
    inner_lr : float, default=0.1
        Initial inner step size.
    inner_rule : {"sgd", "meta-sgd", "meta-lstm"}, default="sgd"
        ``"sgd"``: one step size, meta-learned when ``learn_inner_lr``. ``"meta-sgd"``: a
        learned step size per parameter entry (Li et al. 2017). ``"meta-lstm"``: the
        coordinate-wise LSTM optimizer :class:`~autometa.meta.MetaLSTMRule` (Ravi & Larochelle
        2017) whose input gate starts at ``inner_lr`` (then ``inner_lr`` must be < 1).
    learn_inner_lr : bool, default=True
        Meta-learn the SGD step size (as a log step size).
    first_order : bool, default=False
        First-order meta-gradient through the inner steps.
    inner_params : {"head", "all"}, default="head"
        Which base-net parameters the inner steps update: the generated head only (fast,
        ANIL-like: the support set is embedded once and the steps adapt the linear head on
        the embeddings) or every parameter (MAML-style; a batch-norm net then uses the
        support set's statistics inside the loop).
    """

    def __init__(
        self,
        net: dict[str, Any],
        encoder: str = "deepsets",
        width: int = 128,
        depth: int = 2,
        heads: int = 4,
        film: bool = True,
        proto_residual: bool = True,
        episode_batch_norm: bool = False,
        inner_steps: int = 3,
        inner_lr: float = 0.1,
        inner_rule: str = "sgd",
        learn_inner_lr: bool = True,
        first_order: bool = False,
        inner_params: str = "head",
    ) -> None:
        super().__init__(
            net, encoder, width, depth, heads, film, proto_residual, episode_batch_norm
        )
        owner = type(self).__name__
        self.inner_steps = check_int_at_least(inner_steps, "inner_steps", owner)
        if isinstance(inner_lr, bool) or not isinstance(inner_lr, (int, float)) or not inner_lr > 0:
            raise ValueError(f"{owner}: inner_lr must be a float > 0; got {inner_lr!r}.")
        self.inner_lr = float(inner_lr)
        self.inner_rule = check_choice(
            inner_rule, "inner_rule", ("sgd", "meta-sgd", "meta-lstm"), owner
        )
        self.learn_inner_lr = bool(learn_inner_lr)
        self.first_order = bool(first_order)
        self.inner_params = check_choice(inner_params, "inner_params", ("head", "all"), owner)
        head = ["head.weight", "head.bias"]
        body = [k for k, _ in self.net.named_parameters()]
        self._adapt_names = head if self.inner_params == "head" else body + head
        if self.inner_rule == "sgd":
            log_lr = torch.tensor(float(self.inner_lr)).log()
            if self.learn_inner_lr:
                self.log_inner_lr = nn.Parameter(log_lr)
            else:
                self.register_buffer("log_inner_lr", log_lr)
        elif self.inner_rule == "meta-sgd":
            self.inner_lrs = nn.ParameterDict(
                {
                    k.replace(".", "__"): nn.Parameter(
                        torch.full_like(self.net.get_parameter(k), self.inner_lr)
                    )
                    for k in self._adapt_names
                    if k.startswith("body")
                }
            )
            # the head's shape is per task (c classes), so its step sizes are per output row
            self.head_lr_weight = nn.Parameter(torch.full((self.embedding_dim,), self.inner_lr))
            self.head_lr_bias = nn.Parameter(torch.tensor(self.inner_lr))
        else:
            if not self.inner_lr < 1.0:
                raise ValueError(
                    f"{owner}: with inner_rule='meta-lstm', inner_lr is the initial input gate and "
                    f"must lie in (0, 1); got {self.inner_lr!r}."
                )
            self.lstm_rule = MetaLSTMRule(init_lr=self.inner_lr)

    def _update_rule(self, n_classes: int):
        if self.inner_rule == "sgd":
            return SGD(self.log_inner_lr.exp())
        if self.inner_rule == "meta-sgd":
            lrs = {k.replace("__", "."): v for k, v in self.inner_lrs.items()}
            lrs["head.weight"] = self.head_lr_weight.expand(n_classes, self.embedding_dim)
            lrs["head.bias"] = self.head_lr_bias.expand(n_classes)
            return MetaSGDRule(lrs)
        return self.lstm_rule

    def adapt(self, batch: TaskBatch) -> dict[str, Tensor]:
        """Hypernetwork weights, then ``inner_steps`` functional gradient steps per task."""
        start = super().adapt(batch)
        rule = self._update_rule(batch.class_mask.shape[1])
        steps, first_order = self.inner_steps, self.first_order
        if self.inner_params == "head":
            # the body is fixed during the inner loop: embed the support once and adapt the
            # linear head on the embeddings (episode batch statistics for batch-norm nets)
            body = {k: v for k, v in start.items() if not k.startswith("head.")}
            rows = batch.x_support
            if self.transductive:
                rows = torch.cat([batch.x_support, batch.x_query], dim=1)
            feats = vmap(lambda p, x, fm: functional_call(self.net, p, (x, fm)))(
                body, rows, batch.feature_mask
            )
            feats = feats[:, : batch.x_support.shape[1]]
            params = {"head.weight": start["head.weight"], "head.bias": start["head.bias"]}

            def forward(p: Mapping[str, Tensor], h: Tensor, fm: Tensor) -> Tensor:
                return F.linear(h, p["head.weight"], p["head.bias"])

            inputs = feats
        else:
            # every parameter moves: MAML-style inner loop on the support set alone (batch-norm
            # statistics of the support set inside the loop)
            params, forward, inputs = start, self.forward_one, batch.x_support

        def one_task(
            p: dict[str, Tensor], x: Tensor, y: Tensor, rm: Tensor, fm: Tensor, cm: Tensor
        ):
            support = Support(x[None], y[None], rm[None], fm[None], cm[None])
            out = adapt(forward, p, support, steps=steps, update_rule=rule, first_order=first_order)
            return {k: v[0] for k, v in out.items()}

        adapted = vmap(one_task)(
            params,
            inputs,
            batch.y_support,
            batch.support_mask,
            batch.feature_mask,
            batch.class_mask,
        )
        return {**start, **adapted}

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            **self.attributes(
                "inner_steps",
                "inner_lr",
                "inner_rule",
                "learn_inner_lr",
                "first_order",
                "inner_params",
            ),
        }
