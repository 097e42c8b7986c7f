"""Settings for the action server and the services around it.

Every setting is read here, from the environment, with a type and a default.
Nothing else in the project reads ``os.environ`` for these values.
"""

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / ".data"


def _get_bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be a boolean (true/false), got {raw!r}")


def _get_int(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """Typed settings of the assistant's services.

    Attributes:
        database_url: SQLAlchemy URL of the project database (orders, later the
            catalogue and handoff tickets). ``ASSISTANT_DATABASE_URL``; default a
            SQLite file in ``.data/`` at the project root.
        seed_sample_data: Whether an empty database is seeded with sample orders
            on first use. ``ASSISTANT_SEED_SAMPLE_DATA``; default true.
        return_window_days: Days after delivery during which an order can be
            returned. ``ASSISTANT_RETURN_WINDOW_DAYS``; default 30.
        torch_threads: Intra-op CPU threads torch uses for the recommender's
            query embeddings, set when the model loads. ``ASSISTANT_TORCH_THREADS``;
            default 1 (a single short query is fastest on one thread).
    """

    database_url: str
    seed_sample_data: bool = True
    return_window_days: int = 30
    torch_threads: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """Builds settings from environment variables.

        Args:
            environ: The environment to read; ``os.environ`` by default.

        Returns:
            The parsed settings.

        Raises:
            ValueError: If a variable is set to a value of the wrong type.
        """
        database_url = environ.get("ASSISTANT_DATABASE_URL", "").strip()
        if not database_url:
            database_url = f"sqlite:///{DEFAULT_DATA_DIR / 'assistant.db'}"
        return cls(
            database_url=database_url,
            seed_sample_data=_get_bool(environ, "ASSISTANT_SEED_SAMPLE_DATA", True),
            return_window_days=_get_int(environ, "ASSISTANT_RETURN_WINDOW_DAYS", 30, minimum=0),
            torch_threads=_get_int(environ, "ASSISTANT_TORCH_THREADS", 1, minimum=1),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Returns the process-wide settings, read once from the environment."""
    return Settings.from_env()
