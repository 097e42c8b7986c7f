"""Benchmarks of the assistant's models: ``python -m nlu_models.benchmark --help``."""
