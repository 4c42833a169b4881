"""Security parity gate: authentication, authorisation, CORS, injection probes and security
headers, judged as absolute rules and against legacy (new must never be more open).

config.py (the [security] section) is imported by pytest_cutover.config, so this package imports
nothing at load time; the gate itself is pytest_cutover.gates.security.gate.
"""
