"""The metrics gate: Prometheus metrics of the new system (and legacy as a baseline) judged by
rules over a window, from a scraped /metrics endpoint or a Prometheus server.

config.py (the [metrics] section) is imported by pytest_cutover.config, so this package imports
nothing at load time; the gate itself is pytest_cutover.gates.metrics.gate.run_gate.
"""
