"""Durable human handoff: tickets, the agent API and delivery to Rasa."""
