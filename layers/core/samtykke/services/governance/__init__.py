"""Governance a DPO signs off: four-eyes approvals, staff acting for a person, do-not-contact, operator plans."""
