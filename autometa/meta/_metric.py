"""Metric-based meta-learners: Prototypical, Matching, Relation and Siamese networks.

All four embed support and query rows with the base net's ``.features`` (a
:class:`~autometa.functional.MaskedMLP` for tabular tasks, a
:class:`~autometa.functional.Conv4` for image episodes) and classify a query row by comparing
its embedding with the support set; none of them takes a gradient step at adaptation time.
They share the :class:`~autometa.meta.MetaLearner` interface, so the same
:class:`~autometa.meta.MetaTrainer`, checkpoint format and ``autometa meta-train --algo``
serve them:

========== =================================================================================
``algo``   what ``adapt`` keeps and how ``predict`` scores a query row
========== =================================================================================
protonet   class-mean prototypes; logit = minus the squared Euclidean distance
           (Snell et al. 2017)
matching   the (optionally full-context) support embeddings; probability = cosine-attention
           weighted vote of the support labels (Vinyals et al. 2016)
relation   class-mean prototypes; logit = a learned relation module applied to
           ``[query, prototype]`` (Sung et al. 2018)
siamese    the support embeddings; logit of a class = mean verification logit of the query
           against that class's support rows (Koch et al. 2015); meta-trained on
           same/different pairs
========== =================================================================================

Embeddings are computed per task (``vmap`` over the task axis). A batch-norm net
(:class:`~autometa.functional.Conv4`) normalizes the support set with its own statistics
and the rows to classify with theirs (as in the MAML reference code). Every learner takes
``episode_batch_norm=True`` to embed a task's support and query rows in one pass instead,
so that they share the episode's statistics (transductive batch norm as in the ProtoNet
reference code; query *labels* are never used). Row-wise nets (the MLP) embed every row
independently either way. Classes a task lacks get ``-1e9`` logits
(:func:`~autometa.functional.mask_logits`): their softmax probability is zero and the
probabilities of the present classes sum to one.

The base net's linear head is not used by these learners; it is replaced by
:class:`torch.nn.Identity` so that every parameter of the learner receives a gradient
(which DDP requires).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import vmap

from autometa.functional._losses import mask_logits, masked_accuracy
from autometa.functional._nets import build_net
from autometa.meta._base import MetaLearner, query_loss_and_accuracy, register_learner
from autometa.tasks._task import TaskBatch

__all__ = ["MatchingNet", "ProtoNet", "RelationNet", "SiameseNet", "class_means"]

_NEG = -1e9


# ----------------------------------------------------------------------------- shared helpers


def check_net_config(net: Any, owner: str) -> dict[str, Any]:
    """Validate a base-net config dict and return a JSON-able copy.

    Raises
    ------
    ValueError
        If ``net`` is not a dict with a known ``kind`` or the net cannot be built from it.
    """
    if isinstance(net, nn.Module) and hasattr(net, "get_config"):
        net = net.get_config()
    if not isinstance(net, dict) or "kind" not in net:
        raise ValueError(
            f"{owner} needs `net` as a base-net config dict such as "
            "{'kind': 'mlp', 'd_max': 16, 'c_max': 5, 'hidden': [64, 64]} or "
            "{'kind': 'conv4', 'image_shape': [1, 28, 28], 'c_max': 5}; "
            f"got {net!r}."
        )
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in net.items()}
    try:
        build_net(config)
    except TypeError as exc:  # missing / unexpected keys
        raise ValueError(f"{owner}: invalid base-net config {config!r}: {exc}.") from exc
    return config


def check_int_at_least(value: Any, name: str, owner: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an int >= {minimum}; got {value!r}.")
    return int(value)


def check_choice(value: Any, name: str, choices: tuple[str, ...], owner: str) -> str:
    if value not in choices:
        raise ValueError(f"{owner}: {name} must be one of {list(choices)}; got {value!r}.")
    return str(value)


def support_onehot(batch: TaskBatch) -> Tensor:
    """One-hot support labels ``[T, S, C]`` with padded rows zeroed (float)."""
    c = batch.class_mask.shape[1]
    onehot = F.one_hot(batch.y_support, c).to(batch.x_support.dtype)
    return onehot * batch.support_mask.unsqueeze(-1).to(onehot.dtype)


def class_means(values: Tensor, onehot: Tensor) -> Tensor:
    """Per-class means ``[T, C, E]`` of ``values: [T, S, E]`` under ``onehot: [T, S, C]``.

    Padded rows (all-zero one-hot rows) are ignored; a class without rows gets a zero mean.
    """
    counts = onehot.sum(1).clamp_min(1.0)  # [T, C]
    return torch.einsum("tsc,tse->tce", onehot, values) / counts.unsqueeze(-1)


def has_batch_norm(net: nn.Module) -> bool:
    """Whether ``net`` normalizes with batch statistics (its embeddings depend on the batch)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


def check_batch_width(batch: TaskBatch, c_max: int, owner: str) -> None:
    if batch.class_mask.shape[1] > c_max:
        raise ValueError(
            f"{owner} was built for c_max={c_max} classes but the batch has a class axis of "
            f"{batch.class_mask.shape[1]}; collate with c_max={c_max} or rebuild the learner."
        )


def scoring_mlp(
    in_width: int, hidden: list[int] | tuple[int, ...], name: str, owner: str
) -> tuple[list[int], nn.Sequential]:
    """The validated hidden widths and an MLP ``in_width -> *hidden -> 1`` (ReLU between)."""
    checked = [check_int_at_least(h, f"{name} entries", owner) for h in hidden]
    widths = [in_width, *checked]
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], 1))
    return checked, nn.Sequential(*layers)


def _with_query(fast: dict[str, Tensor], query: Tensor | None) -> dict[str, Tensor]:
    if query is not None:
        fast["query_embedding"] = query
    return fast


class EmbeddingLearner(MetaLearner):
    """Shared plumbing: base-net config, the embedding net and per-task embedding."""

    def __init__(self, net: dict[str, Any], episode_batch_norm: bool = False) -> None:
        super().__init__()
        owner = type(self).__name__
        self.net_config = check_net_config(net, owner)
        self.net = build_net(self.net_config)
        self.c_max = int(self.net.c_max)
        self.embedding_dim = int(self.net.embedding_dim)
        self.net.head = nn.Identity()  # metric learners score embeddings, not logits
        self.episode_batch_norm = bool(episode_batch_norm)
        self.transductive = self.episode_batch_norm and has_batch_norm(self.net)

    def embed(self, x: Tensor, feature_mask: Tensor) -> Tensor:
        """Embeddings ``[T, n, E]`` of rows ``x: [T, n, D]``, computed task by task."""
        return vmap(self.net.features)(x, feature_mask)

    def episode_embeddings(self, batch: TaskBatch) -> tuple[Tensor, Tensor | None]:
        """Support embeddings ``[T, S, E]`` and, with episode batch norm, query embeddings.

        With ``episode_batch_norm=True`` a batch-norm net (conv-4) embeds each task's support
        and query rows in one pass, so both share the episode's statistics (as the ProtoNet
        reference code does). Otherwise (and always for row-wise nets such as the MLP) the
        support set is embedded alone and ``None`` is returned for the query.
        """
        if not self.transductive:
            return self.embed(batch.x_support, batch.feature_mask), None
        s = batch.x_support.shape[1]
        both = self.embed(torch.cat([batch.x_support, batch.x_query], dim=1), batch.feature_mask)
        return both[:, :s], both[:, s:]

    def row_embeddings(self, fast: dict[str, Tensor], x: Tensor, batch: TaskBatch) -> Tensor:
        """Embeddings of the rows to classify (reusing the query embeddings ``adapt`` made)."""
        cached = fast.get("query_embedding")
        if cached is not None and x is batch.x_query:
            return cached
        if not self.transductive:
            return self.embed(x, batch.feature_mask)
        s = batch.x_support.shape[1]
        return self.embed(torch.cat([batch.x_support, x], dim=1), batch.feature_mask)[:, s:]

    def prototype_state(self, batch: TaskBatch) -> dict[str, Tensor]:
        """``{"prototypes": [T, C, E]}`` (zero for classes a task lacks), plus the query
        embeddings when the episode is embedded together (``episode_batch_norm``)."""
        check_batch_width(batch, self.c_max, type(self).__name__)
        emb, query = self.episode_embeddings(batch)
        return _with_query({"prototypes": class_means(emb, support_onehot(batch))}, query)

    def support_state(
        self, batch: TaskBatch, context: nn.Module | None = None
    ) -> dict[str, Tensor]:
        """Support embeddings (passed through ``context.support`` when given), one-hot labels
        and row mask, plus the query embeddings when the episode is embedded together."""
        check_batch_width(batch, self.c_max, type(self).__name__)
        g, query = self.episode_embeddings(batch)
        if context is not None:
            g = context.support(g, batch.support_mask)
        fast = {"support": g, "onehot": support_onehot(batch), "mask": batch.support_mask}
        return _with_query(fast, query)

    def _masked(self, logits: Tensor, batch: TaskBatch) -> Tensor:
        return vmap(mask_logits)(logits, batch.class_mask)

    def _base_config(self) -> dict[str, Any]:
        return {"net": dict(self.net_config), "episode_batch_norm": self.episode_batch_norm}


# ----------------------------------------------------------------------------- ProtoNet


@register_learner("protonet")
class ProtoNet(EmbeddingLearner):
    """Prototypical Networks (Snell, Swersky & Zemel, 2017).

    ``adapt`` computes one prototype per class, the mean embedding of its support rows;
    ``predict`` returns ``-||f(x) - p_k||^2`` for every class ``k``.

    Parameters
    ----------
    net : dict
        Base-net config (``{"kind": "mlp", ...}`` or ``{"kind": "conv4", ...}``); its
        ``.features`` is the embedding.
    episode_batch_norm : bool, default=False
        Embed a task's support and query rows in one pass, sharing batch-norm statistics
        (conv-4 only; see the module docstring).

    Examples
    --------
    >>> from autometa.meta import build_learner
    >>> learner = build_learner("protonet", net={"kind": "mlp", "d_max": 4, "c_max": 3, "hidden": [8]})
    >>> learner.get_config()["net"]["kind"]
    'mlp'
    """

    def __init__(self, net: dict[str, Any], episode_batch_norm: bool = False) -> None:
        super().__init__(net, episode_batch_norm)

    def adapt(self, batch: TaskBatch) -> dict[str, Tensor]:
        """``{"prototypes": [T, C, E]}`` (zero for classes a task lacks)."""
        return self.prototype_state(batch)

    def predict(self, fast: dict[str, Tensor], x: Tensor, batch: TaskBatch) -> Tensor:
        q = self.row_embeddings(fast, x, batch)  # [T, n, E]
        protos = fast["prototypes"]
        d2 = ((q.unsqueeze(2) - protos.unsqueeze(1)) ** 2).sum(-1)  # [T, n, C]
        return self._masked(-d2, batch)

    def get_config(self) -> dict[str, Any]:
        return self._base_config()


# ----------------------------------------------------------------------------- Matching Networks


class _AttentionFCE(nn.Module):
    """Permutation-invariant full-context embedding: residual attention over the support set."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.support_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.query_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm_s = nn.LayerNorm(dim)
        self.norm_q = nn.LayerNorm(dim)

    def support(self, g: Tensor, mask: Tensor) -> Tensor:
        out, _ = self.support_attn(g, g, g, key_padding_mask=~mask, need_weights=False)
        return self.norm_s(g + out)

    def query(self, f: Tensor, g: Tensor, mask: Tensor) -> Tensor:
        out, _ = self.query_attn(f, g, g, key_padding_mask=~mask, need_weights=False)
        return self.norm_q(f + out)


class _LSTMFCE(nn.Module):
    """The full-context embeddings of Vinyals et al. (2016), appendix A.

    Support: ``g(x_i) = g'(x_i) + h_fwd_i + h_bwd_i`` from a bidirectional LSTM over the
    support sequence (order dependent, as in the paper). Query: ``process_steps`` steps of
    an attention LSTM that reads the support set.
    """

    def __init__(self, dim: int, process_steps: int) -> None:
        super().__init__()
        self.bilstm = nn.LSTM(dim, dim, batch_first=True, bidirectional=True)
        self.cell = nn.LSTMCell(dim, dim)
        self.process_steps = process_steps

    def support(self, g: Tensor, mask: Tensor) -> Tensor:
        lengths = mask.sum(1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            g, lengths, batch_first=True, enforce_sorted=False
        )
        out, _ = self.bilstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=g.shape[1])
        d = g.shape[-1]
        return g + out[..., :d] + out[..., d:]

    def query(self, f: Tensor, g: Tensor, mask: Tensor) -> Tensor:
        t, n, d = f.shape
        flat_f = f.reshape(t * n, d)
        h = torch.zeros_like(flat_f)
        c = torch.zeros_like(flat_f)
        h_hat = flat_f
        for _ in range(self.process_steps):
            r = self._read(h_hat.reshape(t, n, d), g, mask).reshape(t * n, d)
            h, c = self.cell(flat_f, (h_hat + r, c))
            h_hat = h + flat_f
        return h_hat.reshape(t, n, d)

    @staticmethod
    def _read(h: Tensor, g: Tensor, mask: Tensor) -> Tensor:
        scores = torch.einsum("tnd,tsd->tns", h, g)
        scores = scores.masked_fill(~mask.unsqueeze(1), _NEG)
        return torch.softmax(scores, dim=-1) @ g


@register_learner("matching")
class MatchingNet(EmbeddingLearner):
    """Matching Networks (Vinyals et al., 2016).

    A query row's class distribution is the attention-weighted vote of the support labels,
    ``p(k | x) = sum_i a(x, x_i) [y_i = k]`` with ``a`` the softmax over support rows of the
    scaled cosine similarity. ``predict`` returns ``log p(k | x)`` computed exactly with
    ``logsumexp`` (so ``softmax(logits) = p``).

    Parameters
    ----------
    net, episode_batch_norm
        As for :class:`ProtoNet`.
    fce : {"none", "attention", "lstm"}, default="none"
        Full-context embeddings. ``"lstm"``: the paper's bidirectional LSTM over the support
        set and attention-LSTM for queries (depends on support order); ``"attention"``: a
        residual attention layer over the support set (permutation invariant).
    process_steps : int, default=2
        Read steps of the attention LSTM (``fce="lstm"``).
    heads : int, default=1
        Attention heads (``fce="attention"``); must divide the embedding width.
    learn_scale : bool, default=True
        Multiply the cosine similarities by a learned scale (initialized at 10). Without it
        the attention over support rows stays close to uniform.
    """

    def __init__(
        self,
        net: dict[str, Any],
        fce: str = "none",
        process_steps: int = 2,
        heads: int = 1,
        learn_scale: bool = True,
        episode_batch_norm: bool = False,
    ) -> None:
        super().__init__(net, episode_batch_norm)
        self.fce = check_choice(fce, "fce", ("none", "attention", "lstm"), "MatchingNet")
        self.process_steps = check_int_at_least(process_steps, "process_steps", "MatchingNet")
        self.heads = check_int_at_least(heads, "heads", "MatchingNet")
        self.learn_scale = bool(learn_scale)
        e = self.embedding_dim
        if self.fce == "attention":
            if e % self.heads:
                raise ValueError(
                    f"MatchingNet: heads={self.heads} must divide the embedding width {e}."
                )
            self.context: nn.Module | None = _AttentionFCE(e, self.heads)
        elif self.fce == "lstm":
            self.context = _LSTMFCE(e, self.process_steps)
        else:
            self.context = None
        if self.learn_scale:
            self.log_scale = nn.Parameter(torch.tensor(10.0).log())
        else:
            self.register_buffer("log_scale", torch.tensor(0.0))

    def adapt(self, batch: TaskBatch) -> dict[str, Tensor]:
        """Support embeddings (full-context when enabled), one-hot labels and row mask."""
        return self.support_state(batch, self.context)

    def predict(self, fast: dict[str, Tensor], x: Tensor, batch: TaskBatch) -> Tensor:
        f = self.row_embeddings(fast, x, batch)
        g, onehot, mask = fast["support"], fast["onehot"], fast["mask"]
        if self.context is not None:
            f = self.context.query(f, g, mask)
        sim = torch.einsum("tnd,tsd->tns", F.normalize(f, dim=-1), F.normalize(g, dim=-1))
        sim = sim * self.log_scale.exp()
        # log p(k|x) = logsumexp_{i in k} s_i - logsumexp_i s_i  (the second term cancels in softmax,
        # but keeping it makes the logits exact log-probabilities)
        member = (onehot > 0).unsqueeze(1)  # [T, 1, S, C]
        per_class = torch.where(member, sim.unsqueeze(-1), torch.full_like(sim.unsqueeze(-1), _NEG))
        log_num = torch.logsumexp(per_class, dim=2)  # [T, n, C]
        log_den = torch.logsumexp(sim.masked_fill(~mask.unsqueeze(1), _NEG), dim=-1, keepdim=True)
        return self._masked(log_num - log_den, batch)

    def get_config(self) -> dict[str, Any]:
        return {
            **self._base_config(),
            "fce": self.fce,
            "process_steps": self.process_steps,
            "heads": self.heads,
            "learn_scale": self.learn_scale,
        }


# ----------------------------------------------------------------------------- Relation Networks


@register_learner("relation")
class RelationNet(EmbeddingLearner):
    """Relation Networks (Sung et al., 2018).

    ``adapt`` computes class-mean prototypes of the support embeddings; a learned relation
    module ``r([f(x), p_k]) -> score`` replaces the fixed distance of ProtoNet. ``predict``
    returns the relation scores as logits (the paper squashes them with a sigmoid).
    The relation module is an MLP over the concatenated flat embeddings, which works for the
    MLP and the conv-4 embedding alike (the paper uses two conv blocks on conv feature maps).

    Parameters
    ----------
    net, episode_batch_norm
        As for :class:`ProtoNet`.
    relation_hidden : list of int, default=[64]
        Hidden widths of the relation module.
    loss : {"ce", "mse"}, default="ce"
        ``"ce"``: episode cross-entropy of the softmax over relation scores.
        ``"mse"``: the paper's mean squared error between ``sigmoid(score)`` and the one-hot
        label of every (query, class) pair.
    """

    def __init__(
        self,
        net: dict[str, Any],
        relation_hidden: list[int] | tuple[int, ...] = (64,),
        loss: str = "ce",
        episode_batch_norm: bool = False,
    ) -> None:
        super().__init__(net, episode_batch_norm)
        self.relation_hidden, self.relation = scoring_mlp(
            2 * self.embedding_dim, relation_hidden, "relation_hidden", "RelationNet"
        )
        self.loss = check_choice(loss, "loss", ("ce", "mse"), "RelationNet")

    def adapt(self, batch: TaskBatch) -> dict[str, Tensor]:
        """``{"prototypes": [T, C, E]}``."""
        return self.prototype_state(batch)

    def relation_scores(self, fast: dict[str, Tensor], x: Tensor, batch: TaskBatch) -> Tensor:
        """Raw relation scores ``[T, n, C]`` of every (row, class prototype) pair."""
        q = self.row_embeddings(fast, x, batch)
        protos = fast["prototypes"]
        t, n, e = q.shape
        c = protos.shape[1]
        pairs = torch.cat(
            [q.unsqueeze(2).expand(t, n, c, e), protos.unsqueeze(1).expand(t, n, c, e)], dim=-1
        )
        return self.relation(pairs).squeeze(-1)

    def predict(self, fast: dict[str, Tensor], x: Tensor, batch: TaskBatch) -> Tensor:
        return self._masked(self.relation_scores(fast, x, batch), batch)

    def meta_loss(self, batch: TaskBatch) -> tuple[Tensor, dict[str, float]]:
        if self.loss == "ce":
            return super().meta_loss(batch)
        fast = self.adapt(batch)
        scores = self.relation_scores(fast, batch.x_query, batch)
        target = F.one_hot(batch.y_query, scores.shape[-1]).to(scores.dtype)
        w = (batch.query_mask.unsqueeze(-1) & batch.class_mask.unsqueeze(1)).to(scores.dtype)
        loss = (((torch.sigmoid(scores) - target) ** 2) * w).sum() / w.sum().clamp_min(1.0)
        logits = self._masked(scores.detach(), batch)
        _, acc = query_loss_and_accuracy(logits, batch)
        return loss, {"loss": float(loss.detach()), "accuracy": float(acc)}

    def get_config(self) -> dict[str, Any]:
        return {
            **self._base_config(),
            "relation_hidden": list(self.relation_hidden),
            "loss": self.loss,
        }


# ----------------------------------------------------------------------------- Siamese networks


@register_learner("siamese")
class SiameseNet(EmbeddingLearner):
    """Siamese verification networks for one-shot classification (Koch, Zemel & Salakhutdinov, 2015).

    A verification head scores a pair of rows, ``v(a, b) = w^T |f(a) - f(b)| + b`` (or an
    MLP on ``|f(a) - f(b)|``), as the logit of "same class". ``predict`` gives a class the
    mean verification logit of the query against that class's support rows, so the argmax is
    the nearest class by verification score (for 1-shot, exactly Koch et al.'s rule).

    Parameters
    ----------
    net, episode_batch_norm
        As for :class:`ProtoNet`.
    verifier_hidden : list of int, default=[]
        Hidden widths of the verification head (empty: the paper's weighted L1 distance).
    loss : {"pairwise", "ce"}, default="pairwise"
        ``"pairwise"``: binary cross-entropy of the verification logits over every
        (query row, support row) pair of a task, labelled same/different, with positive and
        negative pairs weighted equally; this trains the net as a verifier, as in the paper.
        ``"ce"``: episode cross-entropy of the per-class scores (trains the classifier that
        ``predict`` defines directly). Metrics always report classification accuracy.
    """

    def __init__(
        self,
        net: dict[str, Any],
        verifier_hidden: list[int] | tuple[int, ...] = (),
        loss: str = "pairwise",
        episode_batch_norm: bool = False,
    ) -> None:
        super().__init__(net, episode_batch_norm)
        self.verifier_hidden, self.verifier = scoring_mlp(
            self.embedding_dim, verifier_hidden, "verifier_hidden", "SiameseNet"
        )
        self.loss = check_choice(loss, "loss", ("pairwise", "ce"), "SiameseNet")

    def adapt(self, batch: TaskBatch) -> dict[str, Tensor]:
        """Support embeddings, one-hot labels and row mask."""
        return self.support_state(batch)

    def verification_logits(self, fast: dict[str, Tensor], x: Tensor, batch: TaskBatch) -> Tensor:
        """Same-class logits ``[T, n, S]`` of every (row, support row) pair."""
        q = self.row_embeddings(fast, x, batch)
        diff = (q.unsqueeze(2) - fast["support"].unsqueeze(1)).abs()
        return self.verifier(diff).squeeze(-1)

    def _class_scores(self, fast: dict[str, Tensor], v: Tensor) -> Tensor:
        onehot = fast["onehot"]  # [T, S, C]
        return torch.einsum("tns,tsc->tnc", v, onehot) / onehot.sum(1).clamp_min(1.0).unsqueeze(1)

    def predict(self, fast: dict[str, Tensor], x: Tensor, batch: TaskBatch) -> Tensor:
        v = self.verification_logits(fast, x, batch)
        return self._masked(self._class_scores(fast, v), batch)

    def meta_loss(self, batch: TaskBatch) -> tuple[Tensor, dict[str, float]]:
        fast = self.adapt(batch)
        v = self.verification_logits(fast, batch.x_query, batch)
        logits = self._masked(self._class_scores(fast, v), batch)
        if self.loss == "ce":
            loss, acc = query_loss_and_accuracy(logits, batch)
            return loss, {"loss": float(loss.detach()), "accuracy": float(acc)}
        same = (batch.y_query.unsqueeze(2) == batch.y_support.unsqueeze(1)).to(v.dtype)  # [T, n, S]
        valid = (batch.query_mask.unsqueeze(2) & batch.support_mask.unsqueeze(1)).to(v.dtype)
        bce = F.binary_cross_entropy_with_logits(v, same, reduction="none")
        pos, neg = same * valid, (1.0 - same) * valid
        loss = 0.5 * (bce * pos).sum() / pos.sum().clamp_min(1.0) + 0.5 * (
            bce * neg
        ).sum() / neg.sum().clamp_min(1.0)
        acc = vmap(masked_accuracy)(
            logits.detach(), batch.y_query, batch.query_mask, batch.class_mask
        ).mean()
        return loss, {"loss": float(loss.detach()), "accuracy": float(acc)}

    def get_config(self) -> dict[str, Any]:
        return {
            **self._base_config(),
            "verifier_hidden": list(self.verifier_hidden),
            "loss": self.loss,
        }
