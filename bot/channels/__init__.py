"""Custom Rasa input channels of the assistant."""
