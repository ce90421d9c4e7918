"""Functional base nets.

The nets are ordinary ``nn.Module`` definitions used *statelessly*: meta-learners keep the
parameters as a dict and call them with :func:`torch.func.functional_call`, so inner loops
never mutate a module. Every net maps ``x: [n, d_max]`` (plus the feature mask) to logits
``[n, c_max]``; classes a task lacks are masked by the loss, not by the net.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Conv4", "MaskedMLP", "build_net", "NETS"]


class MaskedMLP(nn.Module):
    """MLP for tabular tasks with masked (padded) feature columns.

    The input is ``x * mask`` concatenated with the mask itself, so the net can tell a
    padded column from a real column whose value is zero.

    Parameters
    ----------
    d_max : int
        Width of the encoded feature axis.
    c_max : int
        Width of the output axis: class logits, or 1 for a regression net.
    hidden : tuple of int
        Hidden layer widths.
    """

    def __init__(self, d_max: int, c_max: int, hidden: tuple[int, ...] = (64, 64)) -> None:
        super().__init__()
        if d_max < 1 or c_max < 1:
            raise ValueError(f"MaskedMLP needs d_max >= 1 and c_max >= 1; got {d_max}, {c_max}.")
        self.d_max, self.c_max, self.hidden = int(d_max), int(c_max), tuple(int(h) for h in hidden)
        widths = [2 * self.d_max, *self.hidden]
        self.body = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
        )
        self.head = nn.Linear(widths[-1], self.c_max)

    def features(self, x: Tensor, feature_mask: Tensor | None = None) -> Tensor:
        """Penultimate-layer embedding ``[n, hidden[-1]]`` (what ANIL and metric learners use)."""
        if feature_mask is None:
            feature_mask = torch.ones(x.shape[-1], dtype=torch.bool, device=x.device)
        m = feature_mask.to(x.dtype).expand_as(x)
        h = torch.cat([x * m, m], dim=-1)
        for layer in self.body:
            h = torch.relu(layer(h))
        return h

    def forward(self, x: Tensor, feature_mask: Tensor | None = None) -> Tensor:
        return self.head(self.features(x, feature_mask))

    @property
    def embedding_dim(self) -> int:
        return self.hidden[-1] if self.hidden else 2 * self.d_max

    def get_config(self) -> dict[str, Any]:
        return {
            "kind": "mlp",
            "d_max": self.d_max,
            "c_max": self.c_max,
            "hidden": list(self.hidden),
        }


class Conv4(nn.Module):
    """The conv-4 backbone of the few-shot literature (Vinyals et al. 2016; Finn et al. 2017).

    Four blocks of 3x3 conv, batch norm (no running statistics: statistics come from the
    batch itself, as in MAML, which keeps the net stateless under ``functional_call``),
    ReLU and 2x2 max-pooling, then a linear head. Inputs arrive flattened as
    ``[n, C*H*W]`` and are reshaped to ``image_shape``.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int],
        c_max: int,
        channels: int = 32,
        n_blocks: int = 4,
    ) -> None:
        super().__init__()
        c, h, w = (int(v) for v in image_shape)
        if c_max < 2:
            raise ValueError(f"Conv4 needs c_max >= 2; got {c_max}.")
        self.image_shape, self.c_max, self.channels = (c, h, w), int(c_max), int(channels)
        self.d_max = c * h * w
        blocks = []
        in_ch = c
        for _ in range(n_blocks):
            blocks.append(
                nn.Sequential(
                    nn.Conv2d(in_ch, channels, 3, padding=1),
                    nn.BatchNorm2d(channels, track_running_stats=False),
                    nn.ReLU(),
                    nn.MaxPool2d(2, ceil_mode=True),
                )
            )
            in_ch = channels
            h, w = math.ceil(h / 2), math.ceil(w / 2)
        self.n_blocks = n_blocks
        self.body = nn.Sequential(*blocks)
        self._embedding_dim = channels * h * w
        self.head = nn.Linear(self._embedding_dim, self.c_max)

    @property
    def embedding_dim(self) -> int:
        return self._embedding_dim

    def features(self, x: Tensor, feature_mask: Tensor | None = None) -> Tensor:
        x = x.reshape(x.shape[0], *self.image_shape)
        return self.body(x).flatten(1)

    def forward(self, x: Tensor, feature_mask: Tensor | None = None) -> Tensor:
        return self.head(self.features(x, feature_mask))

    def get_config(self) -> dict[str, Any]:
        return {
            "kind": "conv4",
            "image_shape": list(self.image_shape),
            "c_max": self.c_max,
            "channels": self.channels,
            "n_blocks": self.n_blocks,
        }


NETS: dict[str, type[nn.Module]] = {"mlp": MaskedMLP, "conv4": Conv4}


def build_net(config: dict[str, Any]) -> nn.Module:
    """Rebuild a base net from its ``get_config()`` dictionary.

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    config = dict(config)
    kind = config.pop("kind", None)
    if kind not in NETS:
        raise ValueError(f"Unknown base net kind {kind!r}; known kinds: {sorted(NETS)}.")
    if kind == "mlp":
        config["hidden"] = tuple(config.get("hidden", (64, 64)))
    if kind == "conv4":
        config["image_shape"] = tuple(config["image_shape"])
    return NETS[kind](**config)
