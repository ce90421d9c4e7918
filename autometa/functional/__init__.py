"""Pure functional code (torch.func): base nets used statelessly, losses, inner loops."""

from autometa.functional._adapt import (
    SGD,
    MetaSGDRule,
    Support,
    UpdateRule,
    adapt,
    adapt_loop,
    batched_forward,
    make_forward,
    support_from_batch,
)
from autometa.functional._bar import bar_borders, bar_mean, bar_nll, bar_quantiles, bar_variance
from autometa.functional._losses import mask_logits, masked_accuracy, masked_cross_entropy
from autometa.functional._nets import NETS, Conv4, MaskedMLP, build_net
from autometa.functional._ridge import RIDGE_PENALTIES, RidgeFit, ridge_fit, ridge_predict

__all__ = [
    "NETS",
    "RIDGE_PENALTIES",
    "RidgeFit",
    "SGD",
    "Conv4",
    "MaskedMLP",
    "MetaSGDRule",
    "Support",
    "UpdateRule",
    "adapt",
    "bar_borders",
    "bar_mean",
    "bar_nll",
    "bar_quantiles",
    "bar_variance",
    "adapt_loop",
    "batched_forward",
    "build_net",
    "make_forward",
    "mask_logits",
    "masked_accuracy",
    "masked_cross_entropy",
    "ridge_fit",
    "ridge_predict",
    "support_from_batch",
]
