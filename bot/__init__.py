"""The Rasa side of the assistant: training data, policies, handoff service."""
