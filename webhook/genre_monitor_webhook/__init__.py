"""The genre-monitor webhook: turns Alertmanager notifications into retrain requests."""
