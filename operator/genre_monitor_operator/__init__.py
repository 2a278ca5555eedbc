"""The genre-monitor operator (kopf): reconciles GenreMonitor resources."""
