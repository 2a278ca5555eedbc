"""genre-monitor developer tooling: the test cluster, the demo, tool installers
and synthetic data. Installed from a checkout only (``pip install -e dev``, done
by ``make setup``); it is not part of the ``genre-monitor`` distribution, so no
image carries it."""
