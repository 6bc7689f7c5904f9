"""The local stack: the whole system on one machine, on moto (`samtykke local`, `LocalStack`)."""

# Our loggers stay outside the "samtykke" hierarchy, which the handlers' powertools Logger owns (service "samtykke").
LOGGER = "samtykke-local"
