"""Resources gate: the memory (RSS) and CPU of the systems' own processes, without Prometheus.

config.py (the [resources] section) is imported by pytest_cutover.config, so this package
imports nothing at load time; the gate itself is pytest_cutover.gates.resources.gate.
"""
