"""Pure evidence rules that a third party can re-implement: Merkle trees, signed checkpoints, chain verification.

Nothing here calls AWS or reads the table; `samtykke verify`, the export and the checkpoint writer all use it.
The format is documented in docs/evidence.md.
"""
