"""Rasa SDK action server for the support assistant."""
