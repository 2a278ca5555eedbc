"""genre-monitor: shared contract (API names, labels, metric names) and developer tools.

The three deployable components live in their own packages
(``genre_monitor_operator``, ``genre_monitor_exporter``, ``genre_monitor_webhook``);
everything they must agree on is defined once here and imported.
"""

__version__ = "0.1.0"
