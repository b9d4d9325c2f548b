"""Configuration: defaults, and wrong values that stop the start naming the variable."""

from __future__ import annotations

import json

import pytest

from settings import ConfigError, load_settings

LONG = "x" * 40


def test_development_defaults_need_nothing(tmp_path):
    settings = load_settings({"GATEWAY_DB": str(tmp_path / "g.db")})
    assert settings.environment == "development"
    assert settings.commerce_table is None
    assert settings.quote_ttl_minutes == 15
    assert settings.session_ttl_minutes == 1440
    assert len(settings.secret("jwt_secret")) >= 32


def test_generated_development_secrets_are_kept_for_the_next_start(tmp_path, caplog):
    env = {"GATEWAY_DB": str(tmp_path / "g.db")}
    first = load_settings(env)
    assert "generated JWT_SECRET" in caplog.text
    second = load_settings(env)
    assert first.secret("jwt_secret") == second.secret("jwt_secret")
    assert first.secret("quote_signing_secret") != first.secret("jwt_secret")
    saved = json.loads((tmp_path / "dev-secrets.json").read_text())
    assert saved["jwt_secret"] == first.secret("jwt_secret")
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0


def test_given_secrets_win_over_generated_ones(tmp_path):
    settings = load_settings({"GATEWAY_DB": str(tmp_path / "g.db"), "JWT_SECRET": LONG})
    assert settings.secret("jwt_secret") == LONG


def test_values_are_read(tmp_path):
    settings = load_settings({
        "GATEWAY_DB": str(tmp_path / "g.db"), "COMMERCE_TABLE": "babesclub-commerce",
        "QUOTE_TTL_MINUTES": "30", "CORS_ALLOW_ORIGIN": "https://a.example, https://b.example",
        "STRIPE_API_BASE": "http://127.0.0.1:12111", "JWT_AUDIENCE": "shop",
    })
    assert settings.commerce_table == "babesclub-commerce"
    assert settings.quote_ttl_minutes == 30
    assert settings.cors_allow_origin == ["https://a.example", "https://b.example"]
    assert settings.stripe_api_base == "http://127.0.0.1:12111"


@pytest.mark.parametrize("name, value", [
    ("QUOTE_TTL_MINUTES", "abc"),
    ("QUOTE_TTL_MINUTES", "0"),
    ("QUOTE_TTL_MINUTES", "-5"),
    ("QUOTE_TTL_MINUTES", "1.5"),
    ("QUOTE_TTL_MINUTES", "721"),
    ("SESSION_TTL_MINUTES", "10"),
    ("ENVIRONMENT", "prod"),
    ("COMMERCE_TABLE", "no spaces allowed"),
    ("CORS_ALLOW_ORIGIN", "shop.example"),
    ("STRIPE_API_BASE", "not a url"),
    ("CHECKOUT_SUCCESS_URL", "javascript:alert(1)"),
    ("JWT_SECRET", "short"),
    ("QUOTE_SIGNING_SECRET", "short"),
    ("JWT_LEEWAY_SECONDS", "3600"),
    ("JWT_JWKS_URL", "file:///etc/passwd"),
])
def test_a_wrong_value_stops_the_start_naming_the_variable(tmp_path, name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings({"GATEWAY_DB": str(tmp_path / "g.db"), name: value})
    assert name in str(caught.value)


def test_secrets_are_never_echoed_in_errors(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings({"GATEWAY_DB": str(tmp_path / "g.db"), "JWT_SECRET": "hunter2"})
    assert "hunter2" not in str(caught.value)


def test_production_requires_its_secrets_and_names_them(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings({"GATEWAY_DB": str(tmp_path / "g.db"), "ENVIRONMENT": "production"})
    message = str(caught.value)
    for name in ("JWT_SECRET", "QUOTE_SIGNING_SECRET", "STRIPE_SECRET", "STRIPE_WEBHOOK_SECRET",
                 "CHECKOUT_SUCCESS_URL", "CHECKOUT_CANCEL_URL"):
        assert name in message
    assert not (tmp_path / "dev-secrets.json").exists()


def test_production_starts_with_everything_set(tmp_path):
    settings = load_settings({
        "GATEWAY_DB": str(tmp_path / "g.db"), "ENVIRONMENT": "production",
        "JWT_SECRET": LONG, "QUOTE_SIGNING_SECRET": LONG + "q",
        "STRIPE_SECRET_PARAMETER": "/babesclub/stripe/secret",
        "STRIPE_WEBHOOK_SECRET": "whsec_x", "CHECKOUT_SUCCESS_URL": "https://shop.example/ok",
        "CHECKOUT_CANCEL_URL": "https://shop.example/cancel",
    })
    assert settings.production
    assert not (tmp_path / "dev-secrets.json").exists()


def test_empty_variables_count_as_unset(tmp_path):
    settings = load_settings({"GATEWAY_DB": str(tmp_path / "g.db"), "COMMERCE_TABLE": "",
                              "QUOTE_TTL_MINUTES": ""})
    assert settings.commerce_table is None and settings.quote_ttl_minutes == 15
