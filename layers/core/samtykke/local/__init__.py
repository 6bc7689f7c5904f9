"""The local stack: the whole system on one machine, on moto (`samtykke local`, `LocalStack`)."""

# The handlers' powertools Logger (service "samtykke") adds a filter to the root handlers that drops every record
# whose logger name contains "samtykke", so the local stack's own loggers must be named without it.
LOGGER = "local-stack"
