"""Load benchmark (make bench-load): Locust over REST, this project against `rasa init`."""
