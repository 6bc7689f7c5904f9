"""AWS access for change events and webhooks: the event bus, the webhook queue, the HTTP sender, their items."""
