"""The gate suites: shipped in the wheel as pytest_cutover.suites and collected by the plugin in
every gate run (`pytest -m canary_gate`), so a team needs only its cutover.toml.

Each suite is one test per gate over the cases its config section asks for; the logic lives in
the gate (pytest_cutover.gates) and the shared glue (pytest_cutover.suite). A team's own gate is
an ordinary test marked `canary_gate` in its own repository (see the README).
"""
