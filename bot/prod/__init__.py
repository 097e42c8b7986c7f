"""Production mode: several Rasa instances and action servers behind nginx.

``python -m bot.prod run`` (started by ``make run-prod``) renders the nginx
configuration, starts and supervises every process; see docs/deployment.md.
"""
