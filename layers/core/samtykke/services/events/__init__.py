"""Change events: the table stream turned into CloudEvents on the bus (publisher) and the change feed (feed)."""
