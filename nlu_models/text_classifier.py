"""Fine-tuned transformer text classifier, independent of Rasa.

A BERT-family encoder with mean pooling (the pooling all-MiniLM-L6-v2 was trained
with), L2-normalised sentence vectors and a linear head initialised from the class
centroids. Training uses length-bucketed batches with dynamic padding, AdamW with
linear warm-up and decay, label smoothing, early stopping on a stratified validation
split, and temperature scaling on that split so confidences are calibrated.
"""

import copy
import json
import logging
import math
import time
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from nlu_models.inference import freeze_trace, mean_pooled, with_linear_weights
from nlu_models.training_setup import (
    TrainingOptions,
    TrainingReport,
    bucketed_batches,
    class_weights,
    epoch_count,
    fit_temperature,
    seed_everything,
    split_indices,
    stratified_split,
)

__all__ = [
    "FORMAT_VERSION",
    "TrainingOptions",
    "TrainingReport",
    "TransformerTextClassifier",
    "resolve_device",
    "split_indices",
]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
_ENCODER_DIR = "encoder"
_HEAD_FILE = "head.safetensors"
_META_FILE = "classifier.json"


def resolve_device(device: str) -> torch.device:
    """Maps ``"auto"`` to the GPU when one is present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class _PooledClassifier(nn.Module):
    """Encoder, masked mean pooling, L2 normalisation and a linear head."""

    def __init__(self, encoder: nn.Module, num_labels: int, dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pooled(hidden, attention_mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(input_ids, attention_mask)))


class TransformerTextClassifier:
    """A trained classifier: encoder, tokenizer, head, label names, temperature."""

    def __init__(
        self,
        model: _PooledClassifier,
        tokenizer: "object",
        labels: List[str],
        max_length: int,
        temperature: float = 1.0,
        device: Optional[torch.device] = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.max_length = max_length
        self.temperature = temperature
        self.device = device or torch.device("cpu")
        self.model.to(self.device).eval()
        self._compiled: Optional[torch.jit.ScriptModule] = None

    # ------------------------------------------------------------------ training
    @classmethod
    def train(
        cls,
        checkpoint: Path,
        texts: Sequence[str],
        labels: Sequence[str],
        options: TrainingOptions,
    ) -> Tuple["TransformerTextClassifier", TrainingReport]:
        """Fine-tunes a checkpoint on labelled texts.

        Args:
            checkpoint: Local Hugging Face BERT-family model folder.
            texts: Training texts.
            labels: One label per text.
            options: Hyperparameters.

        Returns:
            The trained classifier and a report of the run.

        """
        from transformers import AutoModel, AutoTokenizer

        started = time.perf_counter()
        seed_everything(options.seed)
        rng = np.random.default_rng(options.seed)
        device = resolve_device(options.device)
        label_names = sorted(set(labels))
        label_index = {name: i for i, name in enumerate(label_names)}
        y = [label_index[name] for name in labels]

        tokenizer = AutoTokenizer.from_pretrained(str(checkpoint), local_files_only=True)
        encoder = AutoModel.from_pretrained(str(checkpoint), local_files_only=True)
        model = _PooledClassifier(encoder, len(label_names), options.dropout).to(device)
        if options.freeze_embeddings:
            model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
        classifier = cls(model, tokenizer, label_names, options.max_length, 1.0, device)

        ids = classifier._tokenize(texts)
        train_idx, val_idx = stratified_split(y, options.validation_fraction, rng)
        # split_indices() must reproduce this split: the rng's first use.
        report = TrainingReport(train_examples=len(train_idx), validation_examples=len(val_idx))
        classifier._init_head_from_centroids([ids[i] for i in train_idx], [y[i] for i in train_idx])

        epochs = epoch_count(options, len(train_idx))
        optimizer, scheduler = classifier._optimizer(options, len(train_idx), epochs)
        weight = class_weights([y[i] for i in train_idx], len(label_names))
        loss_fn = nn.CrossEntropyLoss(
            weight=weight.to(device) if options.balance_classes else None,
            label_smoothing=options.label_smoothing,
        )
        best_state, best_loss, best_accuracy, stale = None, math.inf, None, 0
        for epoch in range(1, epochs + 1):
            model.train()
            batches = bucketed_batches([len(ids[i]) for i in train_idx], options.batch_size, rng)
            progress = tqdm(
                batches, desc=f"epoch {epoch}/{epochs}", disable=not options.show_progress
            )
            total_loss = 0.0
            for batch in progress:
                rows = [train_idx[b] for b in batch]
                input_ids, mask = classifier._pad([ids[r] for r in rows])
                target = torch.tensor([y[r] for r in rows], device=device)
                loss = loss_fn(model(input_ids, mask), target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                total_loss += loss.item()
                progress.set_postfix(loss=f"{loss.item():.3f}")
            entry = {"epoch": float(epoch), "train_loss": total_loss / max(len(batches), 1)}
            report.epochs_run = epoch
            if val_idx:
                logits = classifier._logits([ids[i] for i in val_idx])
                target = torch.tensor([y[i] for i in val_idx])
                accuracy = float((logits.argmax(-1) == target).float().mean())
                val_loss = float(F.cross_entropy(logits, target))
                entry.update(validation_accuracy=accuracy, validation_loss=val_loss)
                # Loss, not accuracy: on a few hundred examples accuracy moves in
                # coarse steps and stops training before the learning rate decays.
                if val_loss < best_loss:
                    best_loss, best_accuracy, stale = val_loss, accuracy, 0
                    report.best_epoch = epoch
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    stale += 1
            report.history.append(entry)
            logger.info("Epoch %d: %s", epoch, entry)
            if val_idx and stale >= options.early_stopping_patience:
                logger.info("Early stopping after epoch %d (best %d).", epoch, report.best_epoch)
                break

        if best_state is not None:
            model.load_state_dict(best_state)
            report.validation_accuracy = best_accuracy
        else:
            report.best_epoch = report.epochs_run
        if val_idx:
            logits = classifier._logits([ids[i] for i in val_idx])
            classifier.temperature = fit_temperature(logits, torch.tensor([y[i] for i in val_idx]))
        report.temperature = classifier.temperature
        report.train_seconds = time.perf_counter() - started
        model.eval()
        return classifier, report

    def _optimizer(
        self, options: TrainingOptions, num_examples: int, epochs: int
    ) -> Tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        from transformers import get_linear_schedule_with_warmup

        decay, no_decay = [], []
        for name, param in self.model.named_parameters():
            if not param.requires_grad:
                continue
            is_norm_or_bias = name.endswith("bias") or "LayerNorm" in name
            (no_decay if is_norm_or_bias else decay).append(param)
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": options.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=options.learning_rate,
        )
        steps = epochs * math.ceil(num_examples / options.batch_size)
        scheduler = get_linear_schedule_with_warmup(
            optimizer, int(steps * options.warmup_fraction), max(steps, 1)
        )
        return optimizer, scheduler

    @torch.no_grad()
    def _init_head_from_centroids(self, ids: List[List[int]], y: List[int]) -> None:
        """Starts the head at the normalised class centroids (a nearest-centroid model)."""
        self.model.eval()
        embeddings = self._embed(ids)
        num_labels, dim = self.model.head.weight.shape
        centroids = torch.zeros(num_labels, dim)
        centroids.index_add_(0, torch.tensor(y), embeddings)
        # A scale of 20 on cosine similarities gives confident but finite logits.
        self.model.head.weight.copy_(F.normalize(centroids, dim=-1).to(self.device) * 20.0)
        self.model.head.bias.zero_()

    # ---------------------------------------------------------------- inference
    def _tokenize(self, texts: Sequence[str]) -> List[List[int]]:
        encoded = self.tokenizer(
            list(texts), truncation=True, max_length=self.max_length, add_special_tokens=True
        )
        return encoded["input_ids"]

    def _pad(self, rows: Sequence[List[int]]) -> Tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r) for r in rows)
        input_ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return input_ids.to(self.device), mask.to(self.device)

    @torch.no_grad()
    def _run(self, ids: List[List[int]], batch_size: int, embed_only: bool) -> torch.Tensor:
        if self.model.training:  # eval() walks every submodule: not once per message
            self.model.eval()
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        outputs: List[torch.Tensor] = []
        for start in range(0, len(order), batch_size):
            input_ids, mask = self._pad([ids[i] for i in order[start : start + batch_size]])
            if embed_only:
                outputs.append(self.model.embed(input_ids, mask).float().cpu())
            elif self._compiled is not None:
                outputs.append(self._compiled(input_ids, mask).float().cpu())
            else:
                outputs.append(self.model(input_ids, mask).float().cpu())
        stacked = torch.cat(outputs)
        result = torch.empty_like(stacked)
        result[torch.tensor(order)] = stacked
        return result

    def _logits(self, ids: List[List[int]], batch_size: int = 64) -> torch.Tensor:
        return self._run(ids, batch_size, embed_only=False)

    def _embed(self, ids: List[List[int]], batch_size: int = 64) -> torch.Tensor:
        return self._run(ids, batch_size, embed_only=True)

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Calibrated class probabilities, one row per text, columns in ``labels`` order.

        Args:
            texts: Texts to classify (empty strings are allowed).
            batch_size: How many texts go through the encoder at once.

        Returns:
            An array of shape ``(len(texts), len(labels))``.

        """
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        logits = self._logits(self._tokenize(texts), batch_size)
        return torch.softmax(logits / self.temperature, dim=-1).numpy()

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """The normalised sentence vectors the head reads, one row per text."""
        if not texts:
            return np.zeros((0, self.model.head.in_features), dtype=np.float32)
        return self._embed(self._tokenize(texts), batch_size).numpy()

    def quantize(self, weights: str = "int8") -> None:
        """Swaps the linear layers for dynamic ones with ``weights`` (CPU inference only).

        Drops a compiled graph (:meth:`compile`); compile again afterwards.

        Args:
            weights: ``int8`` or ``fp16`` (:data:`nlu_models.WEIGHT_PRECISIONS`;
                ``fp32`` changes nothing).

        Raises:
            ValueError: If the precision is unknown or this CPU cannot run it.
        """
        self.model = with_linear_weights(self.model.cpu(), weights)
        self.device = torch.device("cpu")
        self._compiled = None

    @property
    def compiled(self) -> bool:
        """Whether :meth:`predict_proba` runs a compiled graph."""
        return self._compiled is not None

    def compile(self) -> None:
        """Runs inference through a frozen TorchScript graph of the model (CPU only).

        Same probabilities, less time per message (:mod:`nlu_models.inference`).
        Call it after the last change to the weights (training,
        :meth:`quantize`). Does nothing on a GPU.
        """
        if self.device.type != "cpu":
            return
        # Two texts of different lengths, so that the traced graph pads and masks.
        input_ids, mask = self._pad(self._tokenize(["Hi", "Where is my order, please?"]))
        self._compiled = freeze_trace(self.model, input_ids, mask)

    # -------------------------------------------------------------- persistence
    def save(self, directory: Path) -> None:
        """Writes encoder, tokenizer, head and label map into ``directory``."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.encoder.save_pretrained(directory / _ENCODER_DIR, safe_serialization=True)
        self.tokenizer.save_pretrained(directory / _ENCODER_DIR)
        head = {k: v.detach().cpu().contiguous() for k, v in self.model.head.state_dict().items()}
        save_file(head, str(directory / _HEAD_FILE))
        meta = {
            "format_version": FORMAT_VERSION,
            "labels": self.labels,
            "max_length": self.max_length,
            "temperature": self.temperature,
        }
        (directory / _META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, device: str = "auto") -> "TransformerTextClassifier":
        """Loads a classifier written by :meth:`save`.

        Args:
            directory: The folder passed to :meth:`save`.
            device: ``"auto"``, ``"cpu"`` or a torch device string.

        Returns:
            The classifier, in evaluation mode.

        """
        from safetensors.torch import load_file
        from transformers import AutoModel, AutoTokenizer

        directory = Path(directory)
        meta = json.loads((directory / _META_FILE).read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"Unsupported classifier format in '{directory}'.")
        encoder_dir = str(directory / _ENCODER_DIR)
        encoder = AutoModel.from_pretrained(encoder_dir, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(encoder_dir, local_files_only=True)
        model = _PooledClassifier(encoder, len(meta["labels"]), dropout=0.0)
        model.head.load_state_dict(load_file(str(directory / _HEAD_FILE)))
        return cls(
            model,
            tokenizer,
            meta["labels"],
            int(meta["max_length"]),
            float(meta["temperature"]),
            resolve_device(device),
        )
