"""The staff console: server-rendered pages at /console/..., served by one Lambda (functions/console)."""
