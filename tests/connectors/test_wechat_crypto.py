"""WeChat signatures and safe-mode AES: the fixed vectors, and wechatpy as an independent implementation."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from connectors.wechat_crypto import (
    InvalidAppId,
    InvalidSignature,
    MessageCrypto,
    WeChatCryptoError,
    check_msg_signature,
    check_signature,
    decode_aes_key,
)

VECTORS = json.loads((Path(__file__).parent / "data" / "wechat_crypto_vectors.json").read_text(encoding="utf-8"))
IN, OUT = VECTORS["inputs"], VECTORS["outputs"]


@pytest.fixture
def crypto() -> MessageCrypto:
    return MessageCrypto(IN["token"], IN["encoding_aes_key"], IN["appid"])


def test_the_plaintext_signature_vector() -> None:
    assert check_signature(IN["token"], OUT["signature"], IN["timestamp"], IN["nonce"])
    assert check_signature(IN["token"], OUT["signature"].upper(), IN["timestamp"], IN["nonce"])
    assert not check_signature(IN["token"], OUT["signature"], IN["timestamp"], "other")
    assert not check_signature(IN["token"], None, IN["timestamp"], IN["nonce"])


def test_the_key_derivation_vector() -> None:
    key = decode_aes_key(IN["encoding_aes_key"])
    assert key.hex() == VECTORS["derived"]["aes_key_hex"]
    for bad in ("short", IN["encoding_aes_key"][:-1] + "!", "A" * 44):
        with pytest.raises(ValueError):
            decode_aes_key(bad)


def test_the_encryption_and_msg_signature_vectors(crypto: MessageCrypto) -> None:
    encrypt = crypto.encrypt(IN["plaintext_xml"], random_prefix=IN["random_prefix"].encode())
    assert encrypt == OUT["encrypt"]
    assert check_msg_signature(IN["token"], OUT["msg_signature"], IN["timestamp"], IN["nonce"], encrypt)
    assert crypto.decrypt(OUT["encrypt"]) == IN["plaintext_xml"]
    assert (
        crypto.decrypt_message(OUT["encrypt"], OUT["msg_signature"], IN["timestamp"], IN["nonce"])
        == IN["plaintext_xml"]
    )


def test_a_forged_msg_signature_is_refused_before_decryption(crypto: MessageCrypto) -> None:
    [forged] = [c for c in VECTORS["negative_cases"] if c["case"] == "forged msg_signature"]
    with pytest.raises(InvalidSignature):
        crypto.decrypt_message(OUT["encrypt"], forged["msg_signature"], IN["timestamp"], IN["nonce"])


def test_a_message_for_another_account_is_refused() -> None:
    other = MessageCrypto(IN["token"], IN["encoding_aes_key"], "wxOTHER")
    with pytest.raises(InvalidAppId):
        other.decrypt_message(OUT["encrypt"], OUT["msg_signature"], IN["timestamp"], IN["nonce"])


@pytest.mark.parametrize("position", [0, 100, -1])
def test_a_tampered_ciphertext_never_decrypts(crypto: MessageCrypto, position: int) -> None:
    raw = bytearray(base64.b64decode(OUT["encrypt"]))
    raw[position] ^= 0x55
    with pytest.raises(WeChatCryptoError):
        crypto.decrypt(base64.b64encode(bytes(raw)).decode())
    for garbage in ("not base64 at all!", "", base64.b64encode(b"x" * 15).decode()):
        with pytest.raises(WeChatCryptoError):
            crypto.decrypt(garbage)


def test_wechatpy_decrypts_what_we_encrypt_and_the_other_way_round(crypto: MessageCrypto) -> None:
    theirs = WeChatCrypto(IN["token"], IN["encoding_aes_key"], IN["appid"])
    xml = "<xml><Content><![CDATA[校园卡丢了怎么办？😀]]></Content></xml>"
    envelope = crypto.encrypt_reply(xml, IN["timestamp"], IN["nonce"])
    fields = xmltodict.parse(envelope)["xml"]
    assert (fields["TimeStamp"], fields["Nonce"]) == (IN["timestamp"], IN["nonce"])
    assert theirs.decrypt_message(envelope, fields["MsgSignature"], IN["timestamp"], IN["nonce"]) == xml

    sealed = xmltodict.parse(theirs.encrypt_message(xml, IN["nonce"], IN["timestamp"]))["xml"]
    assert crypto.decrypt_message(sealed["Encrypt"], sealed["MsgSignature"], IN["timestamp"], IN["nonce"]) == xml


def test_the_reply_roundtrip_vector(crypto: MessageCrypto) -> None:
    spec = VECTORS["reply_roundtrip"]
    envelope = crypto.encrypt_reply(spec["plaintext_xml"], spec["timestamp"], spec["nonce"])
    fields = xmltodict.parse(envelope)["xml"]
    assert check_msg_signature(IN["token"], fields["MsgSignature"], spec["timestamp"], spec["nonce"], fields["Encrypt"])
    assert crypto.decrypt(fields["Encrypt"]).endswith("回复]]></Content></xml>")
    with pytest.raises(InvalidSignatureException):  # wechatpy agrees a changed signature is wrong
        WeChatCrypto(IN["token"], IN["encoding_aes_key"], IN["appid"]).decrypt_message(
            envelope, "0" * 40, spec["timestamp"], spec["nonce"]
        )
