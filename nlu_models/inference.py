"""Sentence vectors and compiled CPU inference for BERT-family encoders.

On short texts the Python of a Hugging Face encoder costs more per message than
its arithmetic: :func:`freeze_trace` records a module once as a frozen
TorchScript graph, which gives the same outputs without that Python (the
intent classifier, the sentiment model and the recommender's query vectors use
it; docs/benchmarks.md, "Load").
"""

import logging
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from nlu_models import WEIGHT_PRECISIONS

logger = logging.getLogger(__name__)


def mean_pooled(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """L2-normalised mean of the token vectors under the mask.

    This is the pooling all-MiniLM-L6-v2 was trained with (sentence-transformers'
    mean ``Pooling`` followed by ``Normalize``).

    Args:
        hidden: ``(batch, tokens, dim)`` token vectors.
        attention_mask: ``(batch, tokens)``, 1 for real tokens, 0 for padding.

    Returns:
        ``(batch, dim)`` unit-length sentence vectors.
    """
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return F.normalize(pooled, dim=-1)


class SentenceEncoder(nn.Module):
    """A Hugging Face encoder followed by :func:`mean_pooled`."""

    def __init__(self, encoder: nn.Module) -> None:
        """Wraps an encoder whose output has ``last_hidden_state``."""
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Sentence vectors of a padded batch."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pooled(hidden, attention_mask)


@torch.no_grad()
def freeze_trace(
    module: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> torch.jit.ScriptModule:
    """Traces ``module(input_ids, attention_mask)`` into a frozen TorchScript graph.

    The graph holds a copy of the weights, so trace after the last change to
    them. Trace with a padded batch of texts of different lengths: Hugging
    Face's BERT keeps its sequence-length and mask arithmetic symbolic under
    tracing, so the graph then serves any batch size and length (the tests
    compare it with the eager module).

    Args:
        module: The module, in evaluation mode, on the CPU.
        input_ids: An example batch of token ids.
        attention_mask: Its attention mask.

    Returns:
        The frozen graph, called like ``module``.
    """
    module.eval()
    with warnings.catch_warnings():
        # The tracer warns about every Python value it records as a constant,
        # including ones that do not depend on the input.
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, (input_ids, attention_mask), check_trace=False)
    return torch.jit.freeze(traced.eval())


def supports_weights(precision: str) -> bool:
    """Whether this torch build runs linear layers with ``precision`` weights on the CPU.

    fp16 needs the fbgemm engine (x86 CPUs); int8 runs on fbgemm or qnnpack (ARM).
    """
    engines = set(torch.backends.quantized.supported_engines)
    if precision == "fp32":
        return True
    if precision == "fp16":
        return "fbgemm" in engines
    if precision == "int8":
        return bool(engines & {"fbgemm", "qnnpack", "x86"})
    return False


def runnable_weights(precision: str, model: str) -> str:
    """``precision`` if this CPU can run it, else fp32 with a warning naming ``model``."""
    if supports_weights(precision):
        return precision
    logger.warning("This CPU cannot run %s weights; %s stays fp32.", precision, model)
    return "fp32"


def with_linear_weights(module: nn.Module, precision: str) -> nn.Module:
    """``module`` with its linear layers swapped for dynamic ones of ``precision``.

    Args:
        module: A model in evaluation mode, on the CPU.
        precision: One of :data:`nlu_models.WEIGHT_PRECISIONS`; ``fp32`` returns ``module``.

    Returns:
        A new module (``quantize_dynamic`` copies), or ``module`` for fp32.

    Raises:
        ValueError: If ``precision`` is unknown or this CPU's torch cannot run it.
    """
    if precision not in WEIGHT_PRECISIONS:
        raise ValueError(
            f"weights must be one of {', '.join(WEIGHT_PRECISIONS)}, got {precision!r}"
        )
    if not supports_weights(precision):
        raise ValueError(f"this CPU's torch cannot run {precision} linear layers")
    if precision == "fp32":
        return module
    dtype = torch.float16 if precision == "fp16" else torch.qint8
    return torch.ao.quantization.quantize_dynamic(module, {nn.Linear}, dtype=dtype)
