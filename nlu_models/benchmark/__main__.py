"""Command line: ``python -m nlu_models.benchmark intents --train CSV --test CSV --out JSON``."""

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import List, Optional

from nlu_models import WEIGHT_PRECISIONS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nlu_models.benchmark",
        description="Benchmarks of the assistant's models.",
    )
    tasks = parser.add_subparsers(dest="task", required=True)

    intents = tasks.add_parser(
        "intents",
        help="Train the bot's BERT intent classifier (and optionally Rasa's DIET "
        "pipeline) on a CSV split and measure accuracy, macro F1 and latency.",
    )
    intents.add_argument("--train", type=Path, required=True, help="training CSV")
    intents.add_argument("--test", type=Path, required=True, help="test CSV")
    intents.add_argument("--out", type=Path, required=True, help="JSON report to write")
    intents.add_argument("--text-column", default="text")
    intents.add_argument("--label-column", default="label")
    intents.add_argument("--baseline", choices=["diet"], default=None)
    intents.add_argument(
        "--baseline-epochs", type=int, default=None, help="DIET epochs (default 100)"
    )
    intents.add_argument(
        "--oos-label",
        default=None,
        help="label of out-of-scope examples; adds in_scope_accuracy and oos_recall "
        "under the FallbackClassifier threshold of config.yml",
    )
    intents.add_argument(
        "--latency-samples",
        type=int,
        default=1000,
        help="test messages timed one at a time for p50/p95",
    )
    intents.add_argument("--plot", type=Path, default=None, help="per-intent error PNG")
    intents.add_argument("--epochs", type=int, default=None, help="override the component's epochs")
    intents.add_argument(
        "--quantized",
        action="store_true",
        help="also measure the same trained classifier loaded with dynamic int8 quantisation",
    )

    sentiment = tasks.add_parser(
        "sentiment",
        help="Score a labelled split with the fine-tuned sentiment model (and VADER) and "
        "measure macro recall, accuracy, macro F1 and latency.",
    )
    sentiment.add_argument("--test-text", type=Path, required=True, help="one text per line")
    sentiment.add_argument(
        "--test-labels",
        type=Path,
        required=True,
        help="one label id per line (0 neg, 1 neu, 2 pos)",
    )
    sentiment.add_argument("--out", type=Path, required=True, help="JSON report to write")
    sentiment.add_argument("--baseline", choices=["vader"], default=None)
    sentiment.add_argument(
        "--model-dir", type=Path, default=Path("models/sentiment"), help="trained model folder"
    )
    sentiment.add_argument("--latency-samples", type=int, default=1000)
    sentiment.add_argument(
        "--quantized", action="store_true", help="also measure the models with int8 linear layers"
    )
    sentiment.add_argument(
        "--weights",
        nargs="+",
        choices=WEIGHT_PRECISIONS,
        default=["fp32"],
        help="precisions of the linear weights to measure (fp32 always is)",
    )
    topics = tasks.add_parser(
        "sentiment-topics",
        help="Fine-tune the sentiment model on some topics of its training corpus and score "
        "the held-out topics (weight-space mixes, fusion layer); no test split is read.",
    )
    topics.add_argument("--out", type=Path, required=True, help="JSON report to write")
    topics.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    topics.add_argument(
        "--held-out-topics",
        default=None,
        help="comma-separated topics kept out of training (default apple,coachella,other)",
    )
    topics.add_argument(
        "--alphas",
        default=None,
        help="comma-separated shares of fine-tuned weights to score (default 0,0.2,...,1)",
    )
    return parser


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", force=True)
    for name in ("nlu_models", "rasa"):
        logging.getLogger(name).setLevel(logging.INFO)


def main(argv: Optional[List[str]] = None) -> int:
    """Runs the benchmark named on the command line.

    Returns:
        The process exit code.

    """
    args = _parser().parse_args(argv)
    if args.task == "intents":
        from nlu_models.benchmark import intents

        # After the imports: importing Rasa reconfigures logging.
        _configure_logging()

        for path in (args.train, args.test):
            if not path.is_file():
                print(f"error: {path} does not exist", file=sys.stderr)
                return 2
        overrides = {} if args.epochs is None else {"epochs": args.epochs}
        try:
            report = intents.run(
                args.train,
                args.test,
                text_column=args.text_column,
                label_column=args.label_column,
                baseline=args.baseline,
                baseline_epochs=args.baseline_epochs,
                oos_label=args.oos_label,
                latency_samples=args.latency_samples,
                model_overrides=overrides,
                quantized=args.quantized,
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.plot is not None:
            intents.plot_errors(report, args.plot)
    if args.task == "sentiment":
        from nlu_models.benchmark import sentiment

        _configure_logging()
        for path in (args.test_text, args.test_labels):
            if not path.is_file():
                print(f"error: {path} does not exist", file=sys.stderr)
                return 2
        try:
            report = sentiment.run(
                args.test_text,
                args.test_labels,
                args.model_dir,
                baseline=args.baseline,
                latency_samples=args.latency_samples,
                quantized=args.quantized,
                weights=args.weights,
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.task == "sentiment-topics":
        return _sentiment_topics(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    summary = {
        name: {k: v for k, v in report[name].items() if not isinstance(v, dict)}
        for name in ("model", "fused", "model_int8", "fused_int8", "baseline")
        if name in report
    }
    print(json.dumps(summary, indent=2))
    return 0


def _sentiment_topics(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from nlu_models.benchmark import sentiment_topics
    from nlu_models.sentiment import SENTIMENT_TRAINING

    _configure_logging()
    if args.epochs is not None and args.epochs < 1:
        print("error: --epochs must be at least 1", file=sys.stderr)
        return 2
    options = SENTIMENT_TRAINING
    if args.epochs is not None:
        options = replace(options, epochs=args.epochs)
    try:
        held = sentiment_topics.HELD_OUT_TOPICS
        if args.held_out_topics:
            held = tuple(t.strip() for t in args.held_out_topics.split(",") if t.strip())
        alphas = sentiment_topics.ALPHAS
        if args.alphas:
            alphas = tuple(_share(a) for a in args.alphas.split(","))
        report = sentiment_topics.run(options=options, alphas=alphas, held_out_topics=held)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("wise", "fusion_leave_one_topic_out")}, indent=2))
    return 0


def _share(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"--alphas must be numbers from 0 to 1, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"--alphas must be numbers from 0 to 1, got {raw!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
