"""The web chat as a student's browser sees it, with Rasa down (the real-Rasa path is in tests/e2e)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from connectors.webchat import COOKIE_NAME
from desk.models import HandoffRequest, Message


def start(client: TestClient) -> dict:  # type: ignore[type-arg]
    resp = client.post("/api/webchat/session")
    assert resp.status_code == 200
    return resp.json()


def send(ws, text: str, client_id: str, payload: str | None = None) -> None:  # type: ignore[no-untyped-def]
    frame = {"type": "message", "text": text, "client_id": client_id}
    if payload:
        frame["payload"] = payload
    ws.send_text(json.dumps(frame, ensure_ascii=False))


def replies_until_idle(ws) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    """Frames up to the end of the typing indicator."""
    frames = []
    while True:
        frame = ws.receive_json()
        if frame["type"] == "typing" and frame["on"] is False:
            return frames
        if frame["type"] != "typing":
            frames.append(frame)


def test_page_is_the_chat_in_chinese(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert 'lang="zh-CN"' in page.text
    assert "示例大学 一站式学生社区" in page.text
    assert client.get("/static/webchat.js").status_code == 200


def test_server_issues_the_conversation_and_welcomes_once(client: TestClient) -> None:
    first = start(client)
    assert first["conversation_id"].startswith("web:")
    [welcome] = first["messages"]
    assert welcome["role"] == "bot" and "智能助手" in welcome["text"]
    assert {"title": "转人工", "payload": "/request_human"} in welcome["buttons"]
    again = start(client)
    assert again["conversation_id"] == first["conversation_id"]
    assert [m["id"] for m in again["messages"]] == [welcome["id"]]


def test_a_forged_cookie_gets_a_new_conversation_and_no_socket(client: TestClient) -> None:
    victim = start(client)["conversation_id"]
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, victim)  # the raw id, not a signed token
    assert start(client)["conversation_id"] != victim
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, "forged.token.value")
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws/webchat") as ws:
        ws.receive_json()
    assert closed.value.code == 4401


def test_rasa_down_means_a_plain_notice_and_the_message_is_kept(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    conv = start(client)["conversation_id"]
    with client.websocket_connect("/ws/webchat") as ws:
        send(ws, "校园卡丢了怎么办", "c-1")
        echo, notice = replies_until_idle(ws)
    assert echo["message"]["role"] == "student" and echo["message"]["client_id"] == "c-1"
    assert notice["message"]["role"] == "system"
    assert "暂时无法回复" in notice["message"]["text"]
    with sessions() as session:
        texts = session.scalars(select(Message.text).where(Message.conversation_id == conv)).all()
    assert "校园卡丢了怎么办" in texts


def test_crisis_gets_hotlines_and_an_urgent_request_even_with_rasa_down(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    conv = start(client)["conversation_id"]
    with client.websocket_connect("/ws/webchat") as ws:
        send(ws, "我真的不想活了", "c-1")
        _echo, reply = replies_until_idle(ws)
    assert "12356" in reply["message"]["text"] and "400-161-9995" in reply["message"]["text"]
    with sessions() as session:
        request = session.scalars(select(HandoffRequest).where(HandoffRequest.conversation_id == conv)).one()
    assert (request.priority, request.reason, request.department_id) == ("urgent", "crisis", "mental_health")


def test_a_resent_message_is_stored_and_answered_once(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    conv = start(client)["conversation_id"]
    with client.websocket_connect("/ws/webchat") as ws:
        send(ws, "图书馆几点关门", "same-id")
        assert len(replies_until_idle(ws)) == 2
        send(ws, "图书馆几点关门", "same-id")
        assert replies_until_idle(ws) == []
    history = start(client)["messages"]
    assert [m["text"] for m in history if m["role"] == "student"] == ["图书馆几点关门"]
    assert history[-1]["role"] == "system"
    assert conv


def test_history_survives_a_reload_and_can_be_fetched_incrementally(client: TestClient) -> None:
    welcome_id = start(client)["messages"][0]["id"]
    with client.websocket_connect("/ws/webchat") as ws:
        send(ws, "你好", "c-1")
        replies_until_idle(ws)
    newer = client.post(f"/api/webchat/session?after={welcome_id}").json()["messages"]
    assert [m["role"] for m in newer] == ["student", "system"]
    assert all(m["id"] > welcome_id for m in newer)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("not json", "无法识别的消息格式"),
        (json.dumps({"type": "image", "url": "x"}), "暂不支持这种消息类型"),
        (json.dumps({"type": "message", "text": "   "}), "请输入文字内容"),
        (json.dumps({"type": "message", "text": "长" * 1001}), "消息最长1000个字"),
    ],
)
def test_bad_frames_get_a_clear_error(client: TestClient, raw: str, expected: str) -> None:
    start(client)
    with client.websocket_connect("/ws/webchat") as ws:
        ws.send_text(raw)
        frame = ws.receive_json()
    assert frame["type"] == "error" and expected in frame["text"]


def test_rate_limit_per_conversation(client: TestClient) -> None:
    start(client)
    with client.websocket_connect("/ws/webchat") as ws:
        for i in range(5):
            send(ws, f"问题{i}", f"c-{i}")
            replies_until_idle(ws)
        send(ws, "再来一个", "c-5")
        frame = ws.receive_json()
    assert frame == {"type": "error", "text": "发送太频繁，请稍后再试。", "client_id": "c-5"}


def test_student_html_is_stored_as_text(client: TestClient) -> None:
    start(client)
    with client.websocket_connect("/ws/webchat") as ws:
        send(ws, "<script>alert(1)</script>", "c-x")
        echo = replies_until_idle(ws)[0]
    assert echo["message"]["text"] == "<script>alert(1)</script>"
