"""The web chat widget: rasa-webchat on its own page, relayed to Rasa (``python -m bot.web``)."""
