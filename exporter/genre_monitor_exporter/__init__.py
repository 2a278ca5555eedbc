"""The genre-monitor exporter: drift, data-quality and accuracy metrics."""
