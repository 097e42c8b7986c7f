"""Models of the support assistant: the intent classifier and their benchmarks."""
