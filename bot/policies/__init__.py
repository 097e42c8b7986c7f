"""Custom Rasa dialogue policies of the assistant."""
