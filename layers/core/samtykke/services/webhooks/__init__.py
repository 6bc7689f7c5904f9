"""Outbound webhooks: tenants' subscriptions (subscriptions) and delivering change events to them (delivery)."""
