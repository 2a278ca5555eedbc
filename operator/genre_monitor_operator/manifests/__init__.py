"""Pure builders of the objects the operator creates for a GenreMonitor.

Every function takes the parsed monitor (and the operator's configuration)
and returns a plain dict manifest; nothing here talks to the cluster.
"""
