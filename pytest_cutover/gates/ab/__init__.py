"""A/B response diff gate: the same requests to legacy and new, real differences told from noise.

Modules, in the order data flows: corpus (read and sample) -> grouping (endpoint per request) ->
replay (send, politely) -> answer (bodies by kind) -> normalise and compare (field differences)
-> noise (real or noise, per field) -> judge (verdicts and evidence); run ties them together and
baseline records legacy for later.
"""
