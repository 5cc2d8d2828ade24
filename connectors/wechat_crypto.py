"""WeChat Official Account signatures and safe-mode (安全模式) message encryption.

- signature (GET handshake and plaintext POSTs) = sha1 of the sorted token, timestamp, nonce;
- msg_signature (safe mode) = sha1 of the sorted token, timestamp, nonce and the Encrypt value,
  checked before anything is decrypted;
- AES key = base64(EncodingAESKey + "="), 32 bytes; AES-256-CBC with IV = key[:16]; PKCS#7
  padding to 32-byte blocks; plaintext = 16 random bytes || 4-byte big-endian length || XML ||
  appid, and the appid must be ours.
Signatures are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_SIZE = 32


class WeChatCryptoError(ValueError):
    """A message that cannot be verified or decrypted."""


class InvalidSignature(WeChatCryptoError):
    """The signature does not match: forged, or signed with another token."""


class InvalidAppId(WeChatCryptoError):
    """The message decrypts, but was encrypted for another Official Account."""


def sha1_signature(*parts: str) -> str:
    """sha1 over the parts sorted in dictionary order and joined with nothing."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _same(expected: str, received: str | None) -> bool:
    return received is not None and hmac.compare_digest(expected.encode("ascii"), received.lower().encode("utf-8"))


def check_signature(token: str, signature: str | None, timestamp: str, nonce: str) -> bool:
    """The handshake / plaintext-mode signature."""
    return _same(sha1_signature(token, timestamp, nonce), signature)


def check_msg_signature(token: str, msg_signature: str | None, timestamp: str, nonce: str, encrypt: str) -> bool:
    """The safe-mode signature, which also covers the encrypted body."""
    return _same(sha1_signature(token, timestamp, nonce, encrypt), msg_signature)


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey; ValueError for anything else."""
    if len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey does not decode to 32 bytes")
    return key


class MessageCrypto:
    """Encrypts and decrypts safe-mode messages of one Official Account."""

    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        self.token = token
        self.appid = appid
        self._key = decode_aes_key(encoding_aes_key)

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, xml: str, random_prefix: bytes | None = None) -> str:
        """The base64 Encrypt value for `xml` (a fresh random prefix unless one is given)."""
        prefix = random_prefix if random_prefix is not None else os.urandom(16)
        if len(prefix) != 16:
            raise ValueError("the random prefix is 16 bytes")
        body = xml.encode("utf-8")
        plain = prefix + struct.pack(">I", len(body)) + body + self.appid.encode("utf-8")
        pad = BLOCK_SIZE - len(plain) % BLOCK_SIZE
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypt: str) -> str:
        """The XML inside an Encrypt value; raises WeChatCryptoError / InvalidAppId."""
        try:
            data = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise WeChatCryptoError("Encrypt is not base64") from exc
        if not data or len(data) % 16:
            raise WeChatCryptoError("Encrypt has a wrong length")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK_SIZE or plain[-pad:] != bytes([pad]) * pad:
            raise WeChatCryptoError("bad padding")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise WeChatCryptoError("message too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise WeChatCryptoError("bad message length")
        appid = plain[20 + length :]
        if not hmac.compare_digest(appid, self.appid.encode("utf-8")):
            raise InvalidAppId("message is for another appid")
        try:
            return plain[20 : 20 + length].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WeChatCryptoError("message is not UTF-8") from exc

    def decrypt_message(self, encrypt: str, msg_signature: str | None, timestamp: str, nonce: str) -> str:
        """Verify msg_signature over the Encrypt value, then decrypt it."""
        if not check_msg_signature(self.token, msg_signature, timestamp, nonce, encrypt):
            raise InvalidSignature("msg_signature does not match")
        return self.decrypt(encrypt)

    def encrypt_reply(self, xml: str, timestamp: str, nonce: str, random_prefix: bytes | None = None) -> str:
        """The encrypted reply envelope WeChat expects in safe mode."""
        encrypt = self.encrypt(xml, random_prefix)
        signature = sha1_signature(self.token, timestamp, nonce, encrypt)
        return (
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )
