"""Builds the RFC 5322 message (text + HTML alternative) shared by the SMTP and outbox channels."""

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate


@dataclass(frozen=True)
class OutgoingEmail:
    message_id: str
    sender: str
    recipient: str
    subject: str
    text: str
    html: str

    @property
    def message_id_header(self) -> str:
        # Derived from the ledger id, so a receiving system can recognise a re-delivery.
        return f"<{self.message_id}@loyalflow>"

    def to_mime(self) -> EmailMessage:
        message = EmailMessage()
        message["Message-ID"] = self.message_id_header
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["From"] = self.sender
        message["To"] = self.recipient
        message["Subject"] = self.subject
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message
