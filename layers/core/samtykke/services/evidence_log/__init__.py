"""The evidence that holds up without trusting samtykke: anchored checkpoints, receipts, verification, and the
profile changes that only the address owner can apply. The pure rules are in `samtykke.domain.evidence`."""
