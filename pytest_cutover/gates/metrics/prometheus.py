"""A Prometheus server as the source: presets become PromQL, asked over its HTTP API.

An instant query (/api/v1/query) answers for one moment; a range query (/api/v1/query_range)
answers at every step of a window, which is what a `for` window is judged on. Every query must
come back as at most one series: a rule judges one number per moment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import httpx

from pytest_cutover.gates.metrics.presets import Matchers, Signal


class PrometheusError(Exception):
    """The server could not be reached, refused the query, or answered something unexpected."""


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def matcher_text(matchers: Matchers) -> str:
    """`(("status", "re:5.."), ("job", "new"))` -> `status=~"5..",job="new"`."""
    parts = []
    for name, value in matchers:
        if value.startswith("re:"):
            parts.append(f"{name}=~{_quote(value[3:])}")
        else:
            parts.append(f"{name}={_quote(value)}")
    return ",".join(parts)


def duration_text(seconds: float) -> str:
    """Prometheus durations take whole units: 1.5 s is written 1500ms."""
    return f"{max(1, round(seconds * 1000))}ms"


def promql(signal: Signal, selector: Mapping[str, str], window: float) -> str:
    """The PromQL for one signal of one system (its selector labels added to every series)."""
    system = tuple(sorted(selector.items()))
    span = duration_text(window)
    if signal.kind == "query":
        return signal.query.replace("$selector", matcher_text(system)).replace("$window", span)
    base = f"{{{matcher_text((*system, *signal.labels))}}}"
    if signal.kind == "gauge":
        return f"{signal.aggregate}({signal.metric}{base})"
    if signal.kind == "quantile":
        rate = f"rate({signal.metric}_bucket{base}[{span}])"
        return f"histogram_quantile({signal.quantile:g}, sum by (le) ({rate}))"
    everything = f"sum(rate({signal.metric}{base}[{span}]))"
    if not signal.extra:
        return everything
    narrowed = f"{{{matcher_text((*system, *signal.labels, *signal.extra))}}}"
    carrying = ",".join(
        [matcher_text((*system, *signal.labels)), *(f'{name}!=""' for name, _ in signal.extra)]
    ).strip(",")
    # No series with the extra labels' values yet (no 5xx so far) is a rate of 0, not missing
    # data, but only over series that carry those labels at all: a label no series has leaves
    # both sides empty, which is no data.
    return (
        f"sum(rate({signal.metric}{narrowed}[{span}])) "
        f"or 0 * sum(rate({signal.metric}{{{carrying}}}[{span}]))"
    )


def carries(signal: Signal, selector: Mapping[str, str], label: str, span: float) -> str:
    """PromQL that is non-empty when some series of the signal carried `label` within `span`."""
    system = tuple(sorted(selector.items()))
    chosen = ",".join([matcher_text((*system, *signal.labels)), f'{label}!=""']).strip(",")
    return f"count(count_over_time({signal.metric}{{{chosen}}}[{duration_text(span)}]))"


class PrometheusApi:
    """The two query endpoints, with every failure turned into a PrometheusError naming the
    server (password masked by the caller's redactor) and the cause."""

    def __init__(
        self, url: str, headers: Mapping[str, str], timeout: float, verify: bool = True
    ) -> None:
        self.url = url
        self.client = httpx.Client(headers=dict(headers), timeout=timeout, verify=verify)

    def close(self) -> None:
        self.client.close()

    def instant(self, query: str, at: float) -> dict[float, float]:
        data = self._get("/api/v1/query", {"query": query, "time": f"{at:.3f}"}, query)
        return {round(at, 3): value for value in self._one_series(data, query, "value")}

    def range(self, query: str, start: float, end: float, step: float) -> dict[float, float]:
        params = {
            "query": query,
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step:.3f}",
        }
        data = self._get("/api/v1/query_range", params, query)
        points: dict[float, float] = {}
        for values in self._one_series(data, query, "values"):
            for at, value in values:
                points[round(float(at), 3)] = _number(value)
        return points

    def _get(self, path: str, params: dict[str, str], query: str) -> dict[str, Any]:
        where = f"Prometheus at {self.url}"
        try:
            response = self.client.get(self.url + path, params=params)
        except httpx.HTTPError as err:
            raise PrometheusError(f"cannot reach {where}: {type(err).__name__}: {err}") from None
        try:
            body = response.json()
        except ValueError:
            raise PrometheusError(
                f"{where} answered {response.status_code} with no JSON "
                f"(is this a Prometheus server?): {response.text[:200]!r}"
            ) from None
        if response.status_code != 200 or body.get("status") != "success":
            error = body.get("error") or f"status {response.status_code}"
            raise PrometheusError(f"{where} rejected the query {query!r}: {error}")
        data: dict[str, Any] = body["data"]
        return data

    @staticmethod
    def _one_series(data: Mapping[str, Any], query: str, key: str) -> list[Any]:
        result = data.get("result")
        if data.get("resultType") == "scalar" and key == "value":
            return [_number(result[1])] if isinstance(result, list) else []
        if not isinstance(result, list):
            raise PrometheusError(f"unexpected answer to {query!r}: {str(data)[:200]}")
        if len(result) > 1:
            labels = ", ".join(str(series.get("metric", {})) for series in result[:3])
            raise PrometheusError(
                f"{query!r} returned {len(result)} series ({labels}...): a rule judges one "
                "number, so aggregate it with sum(...), max(...) or avg(...)"
            )
        if key == "value":
            return [_number(series["value"][1]) for series in result]
        return [series["values"] for series in result]


def _number(text: object) -> float:
    try:
        return float(str(text))
    except ValueError:
        return math.nan
