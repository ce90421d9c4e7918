"""Pure functional code (torch.func): base nets used statelessly, losses, inner loops."""

from autometa.functional._losses import mask_logits, masked_accuracy, masked_cross_entropy
from autometa.functional._nets import NETS, Conv4, MaskedMLP, build_net

__all__ = sorted(
    ["NETS", "Conv4", "MaskedMLP", "build_net", "mask_logits", "masked_accuracy", "masked_cross_entropy"]
)
