"""Students' contact details: validation, encryption at rest (Fernet), keyed lookup hashes, masking.

The key is passed in by the caller (the desk's settings; never logged, never shown by `repr`). Lookup
hashes are HMAC-SHA256 under a key derived from it (HKDF), so "my bookings" can be found by
conversation id and "one counselling booking per student" checked by student number without storing
either in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import unicodedata
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from knowledge_base.booking.errors import ContactKeyError, InvalidContact
from knowledge_base.redaction import mask_name, mask_phone, mask_student_number

__all__ = ["Contact", "ContactCipher", "mask_name", "mask_phone", "mask_student_number", "validate_contact"]

_PHONE = re.compile(r"^1[3-9]\d{9}$")
_STUDENT_NUMBER = re.compile(r"^[A-Z0-9]{4,20}$")


@dataclass(frozen=True)
class Contact:
    """What a student gives when booking. `repr` is masked so it cannot leak into logs."""

    name: str
    student_number: str
    phone: str

    def __repr__(self) -> str:
        return f"Contact({self.masked().name!r}, {self.masked().student_number!r}, {self.masked().phone!r})"

    __str__ = __repr__

    def masked(self) -> Contact:
        """The same contact with every field masked (张*, 20******12, 138****1234)."""
        return Contact(mask_name(self.name), mask_student_number(self.student_number), mask_phone(self.phone))


def validate_contact(name: str, student_number: str, phone: str) -> Contact:
    """Normalise and check contact details; raise InvalidContact naming the first bad field."""
    name = unicodedata.normalize("NFKC", name or "").strip()
    name = re.sub(r"\s+", " ", name)
    if not 1 <= len(name) <= 50 or any(ch.isdigit() for ch in name):
        raise InvalidContact("name")
    number = re.sub(r"[\s-]", "", unicodedata.normalize("NFKC", student_number or "")).upper()
    if not _STUDENT_NUMBER.match(number):
        raise InvalidContact("student_number")
    digits = normalize_phone(phone)
    if digits is None:
        raise InvalidContact("phone")
    return Contact(name, number, digits)


def normalize_phone(phone: str | None) -> str | None:
    """A mainland mobile number as 11 digits (spaces, dashes, +86/0086 and full-width digits allowed),
    or None when it is not one."""
    digits = re.sub(r"[\s()-]", "", unicodedata.normalize("NFKC", phone or ""))
    digits = digits.removeprefix("+86").removeprefix("0086")
    return digits if _PHONE.match(digits) else None


class ContactCipher:
    """Encrypts contact details and derives lookup hashes from one Fernet key."""

    def __init__(self, key: str | bytes) -> None:
        raw = key.encode() if isinstance(key, str) else key
        try:
            self._fernet = Fernet(raw)
        except (ValueError, TypeError) as exc:
            raise ValueError("the booking key must be a Fernet key (32 url-safe base64-encoded bytes)") from exc
        self._lookup_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"helpdesk booking lookup v1"
        ).derive(base64.urlsafe_b64decode(raw))

    def __repr__(self) -> str:
        return "ContactCipher(<key hidden>)"

    @staticmethod
    def generate_key() -> str:
        """A new random key (what the desk stores in its secrets)."""
        return Fernet.generate_key().decode()

    def ref(self, kind: str, value: str) -> str:
        """A keyed hash of `value` (64 hex characters), separated by `kind` (student_key, student_number)."""
        message = f"{kind}\x00{value}".encode()
        return hmac.new(self._lookup_key, message, hashlib.sha256).hexdigest()

    def seal(self, contact: Contact, student_key: str) -> str:
        """Encrypt the contact and the conversation it came from (reminders go back there)."""
        payload = {
            "name": contact.name,
            "student_number": contact.student_number,
            "phone": contact.phone,
            "student_key": student_key,
        }
        return self._fernet.encrypt(json.dumps(payload, ensure_ascii=False).encode()).decode()

    def seal_text(self, text: str) -> str:
        """Any text as a Fernet token (a student's message kept while the bot is down)."""
        return self._fernet.encrypt(text.encode("utf-8")).decode()

    def open_text(self, token: str) -> str:
        """The text of a `seal_text` token."""
        try:
            return self._fernet.decrypt(token.encode()).decode("utf-8")
        except InvalidToken as exc:
            raise ContactKeyError("a kept message cannot be decrypted with the configured booking key") from exc

    def open(self, token: str) -> tuple[Contact, str]:
        """Decrypt a sealed contact: (contact, student key)."""
        try:
            data = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise ContactKeyError("contact details cannot be decrypted with the configured booking key") from exc
        return Contact(data["name"], data["student_number"], data["phone"]), data["student_key"]
