"""One construct per concern: data, evidence, logs, functions, messaging, api, monitoring."""
