"""samtykke: serverless GDPR consent and marketing-compliance backend."""

__version__ = "0.1.0"
