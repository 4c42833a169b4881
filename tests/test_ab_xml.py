"""XML answers are compared as XML: element and attribute changes are real, formatting is not,
and the evidence names the field as it does for JSON."""

from __future__ import annotations

from pytest_cutover.gates.ab.answer import Answer
from pytest_cutover.gates.ab.compare import Comparer
from pytest_cutover.gates.ab.config import ComparisonRules

ORDER = b"""<?xml version="1.0"?>
<order id="7" currency="EUR">
  <item sku="a-1">Tea</item>
  <item sku="b-2">Cake</item>
  <total>12.50</total>
</order>
"""


def xml(content: bytes, url: str = "http://127.0.0.1:8001/orders/7") -> Answer:
    return Answer("GET", url, (), None, 200, (("content-type", "application/xml"),), content)


def differing(legacy: bytes, new: bytes, **rules: object) -> dict[str, tuple[object, object]]:
    found = Comparer(ComparisonRules.model_validate(rules)).compare(xml(legacy), xml(new))
    return {d.path: (d.legacy, d.new) for d in found.diffs}


def test_formatting_and_attribute_order_are_not_differences() -> None:
    reformatted = (
        b'<order currency="EUR" id="7"><item sku="a-1">Tea</item>'
        b'<item sku="b-2">Cake</item><total>12.50</total></order>'
    )
    assert differing(ORDER, reformatted) == {}


def test_element_and_attribute_changes_are_real_and_named() -> None:
    changed = ORDER.replace(b'currency="EUR"', b'currency="USD"').replace(b"Cake", b"Pie")
    assert differing(ORDER, changed) == {
        "body.attributes.currency": ("EUR", "USD"),
        "body.children[1].text": ("Cake", "Pie"),
    }
    added = ORDER.replace(b"</order>", b"<note>gift</note></order>")
    assert differing(ORDER, added) == {
        "body.children[3]": (None, {"tag": "note", "text": "gift"}),
    }


def test_xml_fields_can_be_ignored_like_json_fields() -> None:
    changed = ORDER.replace(b"12.50", b"12.5")
    assert differing(ORDER, changed, ignore=["body.children[*].text"]) == {}


def test_each_systems_own_origin_in_xml_is_a_placeholder() -> None:
    legacy = xml(b'<a href="http://127.0.0.1:8001/orders/7"/>')
    new = xml(b'<a href="http://127.0.0.1:9002/orders/7"/>', "http://127.0.0.1:9002/orders/7")
    assert Comparer(ComparisonRules()).compare(legacy, new).diffs == ()


def test_xml_that_is_not_well_formed_is_compared_as_text() -> None:
    assert set(differing(b"<a><b></a>", b"<a><c></a>")) == {"body"}
