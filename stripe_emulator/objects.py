"""Stripe-shaped objects, with the fields Stripe's own examples carry (fixtures.json)."""

from __future__ import annotations

import hashlib
from typing import Any

from stripe_emulator import clock
from stripe_emulator.ids import new_id


def now() -> int:
    """The emulator's now (stripe_emulator/clock.py: moved by POST /_emulator/clock)."""
    return clock.now()


def address(values: dict | None = None) -> dict[str, Any]:
    values = values or {}
    return {k: values.get(k) for k in ("city", "country", "line1", "line2", "postal_code", "state")}


def product(params: dict) -> dict[str, Any]:
    created = now()
    return {
        "id": params.get("id") or new_id("prod_", 14), "object": "product",
        "active": params.get("active", True), "created": created, "default_price": None,
        "description": params.get("description"), "images": params.get("images") or [],
        "livemode": False, "marketing_features": [], "metadata": params.get("metadata") or {},
        "name": params["name"], "package_dimensions": None, "shippable": None,
        "statement_descriptor": None, "tax_code": None, "type": "good", "unit_label": None,
        "updated": created, "url": None,
    }


def price(params: dict) -> dict[str, Any]:
    amount = params["unit_amount"]
    return {
        "id": new_id("price_"), "object": "price", "active": params.get("active", True),
        "billing_scheme": "per_unit", "created": now(), "currency": params["currency"],
        "custom_unit_amount": None, "livemode": False, "lookup_key": params.get("lookup_key"),
        "metadata": params.get("metadata") or {}, "nickname": params.get("nickname"),
        "product": params["product"], "recurring": None,
        "tax_behavior": params.get("tax_behavior") or "unspecified",
        "tiers_mode": None, "transform_quantity": None, "type": "one_time",
        "unit_amount": amount, "unit_amount_decimal": str(amount),
    }


def customer(params: dict) -> dict[str, Any]:
    return {
        "id": new_id("cus_", 14), "object": "customer", "address": None, "balance": 0,
        "created": now(), "currency": None, "default_source": None, "delinquent": False,
        "description": params.get("description"), "discount": None, "email": params.get("email"),
        "invoice_prefix": new_id("", 7).upper(), "invoice_settings": {
            "custom_fields": None, "default_payment_method": None, "footer": None,
            "rendering_options": None},
        "livemode": False, "metadata": params.get("metadata") or {}, "name": params.get("name"),
        "next_invoice_sequence": 1, "phone": params.get("phone"), "preferred_locales": [],
        "shipping": None, "tax_exempt": "none", "test_clock": None,
    }


def discount(coupon_obj: dict, session: dict) -> dict[str, Any]:
    """A Discount as Stripe shows it in a session's expanded total_details.breakdown."""
    return {
        "id": "di_" + session["id"][-24:], "object": "discount", "checkout_session": session["id"],
        "customer": session["customer"], "customer_account": None, "end": None, "invoice": None,
        "invoice_item": None, "promotion_code": None,
        "source": {"coupon": coupon_obj["id"], "type": "coupon"}, "start": session["created"],
        "subscription": None, "subscription_item": None,
    }


def tax_rate(country: str, basis_points: int) -> dict[str, Any]:
    return {
        "id": f"txr_emulator_{country.lower()}", "object": "tax_rate", "active": True,
        "country": country, "created": 0, "description": None, "display_name": "Tax",
        "effective_percentage": basis_points / 100, "flat_amount": None, "inclusive": False,
        "jurisdiction": country, "jurisdiction_level": "country", "livemode": False, "metadata": {},
        "percentage": basis_points / 100, "rate_type": "percentage", "state": None, "tax_type": "sales_tax",
    }


def coupon(params: dict) -> dict[str, Any]:
    return {
        "id": params.get("id") or new_id("", 8).upper(), "object": "coupon",
        "amount_off": params.get("amount_off"), "created": now(), "currency": params.get("currency"),
        "duration": params.get("duration") or "once", "duration_in_months": None, "livemode": False,
        "max_redemptions": None, "metadata": params.get("metadata") or {}, "name": params.get("name"),
        "percent_off": params.get("percent_off"), "redeem_by": None, "times_redeemed": 0, "valid": True,
    }


def shipping_rate(params: dict) -> dict[str, Any]:
    return {
        "id": new_id("shr_"), "object": "shipping_rate", "active": True, "created": now(),
        "delivery_estimate": None, "display_name": params["display_name"],
        "fixed_amount": {"amount": params["amount"], "currency": params["currency"]},
        "livemode": False, "metadata": params.get("metadata") or {},
        "tax_behavior": params.get("tax_behavior") or "unspecified", "tax_code": None, "type": "fixed_amount",
    }


def line_item(price_obj: dict, quantity: int, description: str) -> dict[str, Any]:
    subtotal = price_obj["unit_amount"] * quantity
    return {
        "id": new_id("li_"), "object": "item", "adjustable_quantity": None,
        "amount_discount": 0, "amount_subtotal": subtotal, "amount_tax": 0, "amount_total": subtotal,
        "currency": price_obj["currency"], "description": description, "metadata": {},
        "price": price_obj, "quantity": quantity,
    }


def payment_intent(session: dict, status: str) -> dict[str, Any]:
    pi_id = new_id("pi_")
    return {
        "id": pi_id, "object": "payment_intent", "amount": session["amount_total"],
        "amount_capturable": 0, "amount_details": {"tip": {}},
        "amount_received": session["amount_total"] if status == "succeeded" else 0,
        "application": None, "application_fee_amount": None,
        "automatic_payment_methods": None, "canceled_at": None, "cancellation_reason": None,
        "capture_method": "automatic", "client_secret": f"{pi_id}_secret_{new_id('', 25)}",
        "confirmation_method": "automatic", "created": now(), "currency": session["currency"],
        "customer": session["customer"], "customer_account": None, "description": None,
        "excluded_payment_method_types": None, "last_payment_error": None, "latest_charge": None,
        "livemode": False, "managed_payments": None, "metadata": session["_pi_metadata"],
        "next_action": None, "on_behalf_of": None, "payment_method": new_id("pm_"),
        "payment_method_configuration_details": None, "payment_method_options": {},
        "payment_method_types": ["card"], "processing": None,
        "receipt_email": None, "review": None, "setup_future_usage": None, "shipping": None,
        "source": None, "statement_descriptor": None, "statement_descriptor_suffix": None,
        "status": status, "transfer_data": None, "transfer_group": None,
    }


def charge(pi: dict, billing: dict[str, Any], last4: str) -> dict[str, Any]:
    charge_id = new_id("ch_")
    return {
        "id": charge_id, "object": "charge", "amount": pi["amount"], "amount_captured": pi["amount"],
        "amount_refunded": 0, "application": None, "application_fee": None,
        "application_fee_amount": None, "balance_transaction": new_id("txn_"),
        "billing_details": {"address": address(billing.get("address")), "email": billing.get("email"),
                            "name": billing.get("name"), "phone": None, "tax_id": None},
        "calculated_statement_descriptor": "EMULATOR", "captured": True, "created": now(),
        "currency": pi["currency"], "customer": pi["customer"], "description": None,
        "disputed": False, "failure_balance_transaction": None, "failure_code": None,
        "failure_message": None, "fraud_details": {}, "livemode": False, "metadata": dict(pi["metadata"]),
        "on_behalf_of": None, "outcome": {"advice_code": None, "network_advice_code": None,
                                          "network_decline_code": None, "network_status": "approved_by_network",
                                          "reason": None, "seller_message": "Payment complete.",
                                          "type": "authorized"},
        "paid": True, "payment_intent": pi["id"], "payment_method": pi["payment_method"],
        "payment_method_details": {"card": card_details(last4, pi["amount"]), "type": "card"},
        "receipt_email": billing.get("email"), "receipt_number": None, "receipt_url": None,
        "refunded": False,
        "refunds": {"object": "list", "data": [], "has_more": False, "url": f"/v1/charges/{charge_id}/refunds"},
        "review": None, "shipping": None, "source": None, "source_transfer": None,
        "statement_descriptor": None, "statement_descriptor_suffix": None, "status": "succeeded",
        "transfer_data": None, "transfer_group": None,
    }


def refund(charge_obj: dict, amount: int, reason: str | None, metadata: dict) -> dict[str, Any]:
    return {
        "id": new_id("re_"), "object": "refund", "amount": amount,
        "balance_transaction": new_id("txn_"), "charge": charge_obj["id"], "created": now(),
        "currency": charge_obj["currency"], "customer": charge_obj["customer"],
        "customer_account": None, "destination_details": None, "metadata": metadata,
        "payment_intent": charge_obj["payment_intent"], "payment_method": charge_obj["payment_method"],
        "reason": reason, "receipt_number": None, "source_transfer_reversal": None,
        "status": "succeeded", "transfer_reversal": None,
    }


EVIDENCE_FIELDS = (
    "access_activity_log", "billing_address", "cancellation_policy", "cancellation_policy_disclosure",
    "cancellation_rebuttal", "customer_communication", "customer_email_address", "customer_name",
    "customer_purchase_ip", "customer_signature", "duplicate_charge_documentation",
    "duplicate_charge_explanation", "duplicate_charge_id", "product_description", "receipt", "refund_policy",
    "refund_policy_disclosure", "refund_refusal_explanation", "service_date", "service_documentation",
    "shipping_address", "shipping_carrier", "shipping_date", "shipping_documentation",
    "shipping_tracking_number", "uncategorized_file", "uncategorized_text",
)


def card_details(last4: str, amount: int) -> dict[str, Any]:
    """charge.payment_method_details.card for the emulator's test cards (all Visa)."""
    return {
        "amount_authorized": amount, "authorization_code": None, "brand": "visa",
        "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
        "country": "US", "exp_month": 12, "exp_year": 2034, "extended_authorization": {"status": "disabled"},
        "fingerprint": hashlib.sha256(f"card-{last4}".encode()).hexdigest()[:16], "funding": "credit",
        "incremental_authorization": {"status": "unavailable"}, "installments": None, "last4": last4,
        "mandate": None, "multicapture": {"status": "unavailable"}, "network": "visa",
        "network_token": {"used": False}, "network_transaction_id": None,
        "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
        "regulated_status": "unregulated", "three_d_secure": None, "transaction_link_id": None, "wallet": None,
    }


def dispute(charge_obj: dict, amount: int, reason: str) -> dict[str, Any]:
    return {
        "id": new_id("dp_"), "object": "dispute", "amount": amount, "balance_transactions": [],
        "charge": charge_obj["id"], "created": now(), "currency": charge_obj["currency"],
        "enhanced_eligibility_types": [], "evidence": {**dict.fromkeys(EVIDENCE_FIELDS), "enhanced_evidence": {}},
        "evidence_details": {
            "due_by": now() + 7 * 86400, "enhanced_eligibility": {}, "has_evidence": False,
            "past_due": False, "submission_count": 0},
        "is_charge_refundable": False, "livemode": False, "metadata": {},
        "payment_intent": charge_obj["payment_intent"], "payment_method_details": {"card": {
            "brand": "visa", "case_type": "chargeback", "network": "visa", "network_reason_code": "10.4"},
            "type": "card"},
        "reason": reason, "status": "needs_response",
    }


def event(type_: str, obj: dict, api_version: str, previous: dict | None = None,
          request: tuple[str | None, str | None] = (None, None)) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous:
        data["previous_attributes"] = previous
    return {
        "id": new_id("evt_"), "object": "event", "api_version": api_version, "created": now(),
        "data": data, "livemode": False, "pending_webhooks": 0,
        "request": {"id": request[0], "idempotency_key": request[1]}, "type": type_,
    }
