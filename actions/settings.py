"""Settings for the action server and the services around it.

Every setting is read here, from the environment, with a type and a default.
Nothing else in the project reads ``os.environ`` for these values.
"""

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Optional
from urllib.parse import urlsplit

from nlu_models import WEIGHT_PRECISIONS

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


def _get_weights(environ: Mapping[str, str], name: str, default: str) -> str:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in WEIGHT_PRECISIONS:
        raise ValueError(f"{name} must be one of {', '.join(WEIGHT_PRECISIONS)}, got {raw!r}")
    return raw


def _sentiment_weights(environ: Mapping[str, str]) -> str:
    if environ.get("ASSISTANT_SENTIMENT_QUANTIZE", "").strip():
        raise ValueError(
            "ASSISTANT_SENTIMENT_QUANTIZE was replaced by ASSISTANT_SENTIMENT_WEIGHTS "
            "(fp16, fp32 or int8; int8 is what ASSISTANT_SENTIMENT_QUANTIZE=true meant)"
        )
    return _get_weights(environ, "ASSISTANT_SENTIMENT_WEIGHTS", "fp16")


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


def _get_float(
    environ: Mapping[str, str], name: str, default: float, minimum: float, maximum: float
) -> float:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _get_path(environ: Mapping[str, str], name: str, default: Path) -> Path:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    path = Path(raw.strip()).expanduser()
    # Relative paths are relative to the project, like the defaults.
    return path if path.is_absolute() else PROJECT_ROOT / path


# The same parsers serve the other services' settings modules
# (bot/handoff, bot/web, bot/prod, bot/channels).


def _get_str(environ: Mapping[str, str], name: str) -> Optional[str]:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    return raw.strip()


MAX_PORT = 65535


def _get_port(environ: Mapping[str, str], name: str, default: int) -> int:
    port = _get_int(environ, name, default, minimum=1)
    if port > MAX_PORT:
        raise ValueError(f"{name} must be at most {MAX_PORT}, got {port}")
    return port


def _check_http_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL, got {url!r}")


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
        sentiment_model_dir: Directory of the fine-tuned sentiment model; VADER
            is used when it holds none. ``ASSISTANT_SENTIMENT_MODEL_DIR``;
            default ``models/sentiment`` (relative paths are relative to the
            project root).
        sentiment_weights: Precision of the fine-tuned sentiment model's linear
            weights on the CPU: ``fp16`` (the same labels as ``fp32`` on all but a
            handful of TweetEval tweets, a third of the time per message),
            ``fp32`` (as trained) or ``int8`` (faster still, 0.9 points less
            TweetEval macro recall); docs/benchmarks.md, "Sentiment".
            ``ASSISTANT_SENTIMENT_WEIGHTS``; default fp16.
        recommender_weights: Precision of the recommender's query encoder's
            linear weights on the CPU (``fp16``, ``fp32`` or ``int8``): with
            ``fp16`` query vectors stay within about 1e-4 of fp32's and the
            recommender's quality figures are unchanged (docs/benchmarks.md).
            ``ASSISTANT_RECOMMENDER_WEIGHTS``; default fp16.
        escalation_strong_negative_score: A single negative message scoring
            at most this (-1..0) hands the conversation to a person.
            ``ESCALATION_STRONG_NEGATIVE_SCORE``; default -0.6.
        escalation_negative_score: A scored message counts as negative for the
            sustained trigger when labelled negative and scoring at most this
            (-1..0). ``ESCALATION_NEGATIVE_SCORE``; default -0.3.
        escalation_negative_turns: How many of the last
            ``escalation_negative_window`` scored messages must be negative,
            the latest one included. ``ESCALATION_NEGATIVE_TURNS``; default 2.
        escalation_negative_window: How many of the latest scored messages the
            sustained trigger looks at. ``ESCALATION_NEGATIVE_WINDOW``; default 3.
        escalation_fallbacks_in_a_row: Messages in a row the NLU did not
            understand before escalating; 0 turns the trigger off.
            ``ESCALATION_FALLBACKS_IN_A_ROW``; default 2.
        escalation_on_request: Whether asking for a person (intent
            ``request_human``) hands over. ``ESCALATION_ON_REQUEST``; default true.
    """

    database_url: str
    seed_sample_data: bool = True
    return_window_days: int = 30
    torch_threads: int = 1
    sentiment_model_dir: Path = PROJECT_ROOT / "models" / "sentiment"
    sentiment_weights: str = "fp16"
    recommender_weights: str = "fp16"
    escalation_strong_negative_score: float = -0.6
    escalation_negative_score: float = -0.3
    escalation_negative_turns: int = 2
    escalation_negative_window: int = 3
    escalation_fallbacks_in_a_row: int = 2
    escalation_on_request: bool = True

    def __post_init__(self) -> None:
        if self.escalation_negative_turns > self.escalation_negative_window:
            raise ValueError(
                "ESCALATION_NEGATIVE_TURNS must not exceed ESCALATION_NEGATIVE_WINDOW, got "
                f"{self.escalation_negative_turns} > {self.escalation_negative_window}"
            )

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
            sentiment_model_dir=_get_path(
                environ, "ASSISTANT_SENTIMENT_MODEL_DIR", PROJECT_ROOT / "models" / "sentiment"
            ),
            sentiment_weights=_sentiment_weights(environ),
            recommender_weights=_get_weights(environ, "ASSISTANT_RECOMMENDER_WEIGHTS", "fp16"),
            escalation_strong_negative_score=_get_float(
                environ, "ESCALATION_STRONG_NEGATIVE_SCORE", -0.6, minimum=-1.0, maximum=0.0
            ),
            escalation_negative_score=_get_float(
                environ, "ESCALATION_NEGATIVE_SCORE", -0.3, minimum=-1.0, maximum=0.0
            ),
            escalation_negative_turns=_get_int(environ, "ESCALATION_NEGATIVE_TURNS", 2, minimum=1),
            escalation_negative_window=_get_int(
                environ, "ESCALATION_NEGATIVE_WINDOW", 3, minimum=1
            ),
            escalation_fallbacks_in_a_row=_get_int(
                environ, "ESCALATION_FALLBACKS_IN_A_ROW", 2, minimum=0
            ),
            escalation_on_request=_get_bool(environ, "ESCALATION_ON_REQUEST", True),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Returns the process-wide settings, read once from the environment."""
    return Settings.from_env()
