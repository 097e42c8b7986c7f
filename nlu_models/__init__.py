"""Models of the support assistant: the intent classifier and their benchmarks."""

WEIGHT_PRECISIONS = ("fp32", "fp16", "int8")
"""Precisions of a model's linear weights at inference on the CPU.

``fp32`` as trained; ``fp16`` weights rounded to half precision, arithmetic in
fp32 (fbgemm's fp16 GEMM: probabilities within about 1e-3 of fp32's, three to
four times faster on short texts); ``int8`` weights and activations quantised
per call (faster still, but it moves probabilities by up to about 0.1). Here,
without torch, so that settings can check a value without loading it
(:mod:`nlu_models.inference` applies them).
"""
