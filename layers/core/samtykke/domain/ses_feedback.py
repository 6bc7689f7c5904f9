"""What an SES bounce or complaint means for the address it names. Pure: no I/O.

- A permanent bounce suppresses the address at once (`hard_bounce`).
- A transient bounce (mailbox full, message too large...) and an undetermined one are counted on the address; the
  address is suppressed only when `SOFT_BOUNCE_LIMIT` of them have been counted.
- A complaint suppresses the address (`complaint`), recorded apart from bounces. A feedback report of the type
  `not-spam` is the opposite of a complaint and changes nothing.
Anything else (Delivery, Send, Reject, Rendering Failure...) changes no address.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

SOFT_BOUNCE_LIMIT = 3


class FeedbackAction(StrEnum):
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"


@dataclass(frozen=True)
class Feedback:
    action: FeedbackAction
    address: str  # as SES reports it: plaintext, never logged or stored
    feedback_id: str
    detail: str  # bounce subtype or complaint feedback type


def event_type(message: dict[str, Any]) -> str:
    """`eventType` from configuration-set event publishing, `notificationType` from identity notifications."""
    return str(message.get("eventType") or message.get("notificationType") or "")


def feedback(message: dict[str, Any]) -> list[Feedback]:
    """One action per recipient the notification names, or none."""
    kind = event_type(message)
    if kind == "Bounce":
        bounce = message.get("bounce") or {}
        permanent = bounce.get("bounceType") == "Permanent"
        action = FeedbackAction.HARD_BOUNCE if permanent else FeedbackAction.SOFT_BOUNCE
        recipients = bounce.get("bouncedRecipients") or []
        detail = f"{bounce.get('bounceType', '')}/{bounce.get('bounceSubType', '')}"
        feedback_id = str(bounce.get("feedbackId") or "")
    elif kind == "Complaint":
        complaint = message.get("complaint") or {}
        if str(complaint.get("complaintFeedbackType", "")).lower() == "not-spam":
            return []
        action = FeedbackAction.COMPLAINT
        recipients = complaint.get("complainedRecipients") or []
        detail = str(complaint.get("complaintFeedbackType") or "complaint")
        feedback_id = str(complaint.get("feedbackId") or "")
    else:
        return []
    return [
        Feedback(action, str(r["emailAddress"]), feedback_id, detail)
        for r in recipients
        if isinstance(r, dict) and r.get("emailAddress")
    ]


def mail_tag(message: dict[str, Any], name: str) -> str | None:
    """A message tag SES echoes in `mail.tags` ({name: [value]})."""
    values = ((message.get("mail") or {}).get("tags") or {}).get(name)
    if isinstance(values, list) and values:
        return str(values[0])
    return None


def mail_header(message: dict[str, Any], name: str) -> str | None:
    """A header of the original message, from `mail.headers` (present unless SES truncated them)."""
    for header in (message.get("mail") or {}).get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == name.lower():
            return str(header.get("value", "")) or None
    return None
