"""The pydantic models.

These modules do without `from __future__ import annotations`: pydantic evaluates every field annotation when it
creates a model class, and evaluating them from strings made importing the models about a fifth slower.
"""
