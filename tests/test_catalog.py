"""The catalog file: the shipped sample, and bad files that must stop the start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from commerce.catalog import CatalogError, load_catalog

SAMPLE = Path(__file__).resolve().parent.parent / "catalog" / "products.json"


def test_the_sample_catalog_has_18_products_a_bundle_and_the_live_prices():
    catalog = load_catalog(SAMPLE)
    pieces = [p for p in catalog.products if not p.is_bundle]
    assert len(pieces) == 18
    assert {p.category for p in pieces} >= {"necklaces", "earrings", "bracelets"}
    found = [catalog.get(s) for s in ("N-RED", "N-ORG", "E-MAG-SIL")]
    assert [(p.price, p.currency) if p else None for p in found] == [(3000, "USD"), (3000, "USD"), (2500, "USD")]
    bundles = [p for p in catalog.products if p.is_bundle]
    assert bundles and all(b.price < b.list_price for b in bundles)


def write(tmp_path, data) -> Path:
    path = tmp_path / "products.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def sample() -> dict:
    return json.loads(SAMPLE.read_text())


def mutate(change) -> dict:
    data = sample()
    change(data)
    return data


@pytest.mark.parametrize("data, named", [
    (mutate(lambda d: d["products"][3].update(price=29.99)), "products[3].price"),
    (mutate(lambda d: d["products"][3].update(price="3000")), "products[3].price"),
    (mutate(lambda d: d["products"][3].update(price=0)), "products[3].price"),
    (mutate(lambda d: d["products"][3].update(price=-100)), "products[3].price"),
    (mutate(lambda d: d["products"][0].update(sku="n red")), "products[0].sku"),
    (mutate(lambda d: d["products"][0].update(name="")), "products[0].name"),
    (mutate(lambda d: d["products"][0].update(name="bad\u0007name")), "products[0].name"),
    (mutate(lambda d: d["products"][0].update(category="hats")), "products[0].category"),
    (mutate(lambda d: d["products"][0].update(colour="red")), "products[0].colour"),
    (mutate(lambda d: d["products"][0].pop("price")), "products[0].price"),
    (mutate(lambda d: d["products"][1].update(sku="N-RED")), "appears twice"),
    (mutate(lambda d: d["bundles"][0]["items"].append({"sku": "GHOST", "quantity": 1})), "GHOST"),
    (mutate(lambda d: d["bundles"][0].update(price=999999)), "not less than its parts"),
    (mutate(lambda d: d.update(currency="usd")), "currency"),
    (mutate(lambda d: d.update(products=[])), "products"),
    ({"products": "nope"}, "products"),
    ("{not json", "invalid catalog"),
    ("[]", "invalid catalog"),
    ("", "invalid catalog"),
])
def test_a_bad_catalog_is_refused_and_the_entry_named(tmp_path, data, named):
    with pytest.raises(CatalogError) as caught:
        load_catalog(write(tmp_path, data))
    assert named in str(caught.value)


def test_a_missing_catalog_file_is_named(tmp_path):
    with pytest.raises(CatalogError, match=r"cannot read catalog .*missing\.json"):
        load_catalog(tmp_path / "missing.json")
