"""Loading a model into the running Rasa servers through their HTTP API, with no restart.

`PUT /model {"model_file": <path>}` makes a Rasa server load the archive and swap its agent: conversations
go on (trackers are in the tracker store, the lock store is kept), and a message that arrives while the new
model loads waits for it instead of failing. The replicas (HELPDESK_RASA_URLS) are loaded one after the
other, so the others keep answering meanwhile. After loading, each server must report the new model in
`GET /status` and understand a sentence (`POST /model/parse`); when one fails, the servers already loaded
get the previous model back, so all of them serve the same model.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger(__name__)
LOAD_SECONDS = 300.0  # loading a model on a busy 2-core machine can take a while
SANITY_TEXT = "你好"


class LoadError(Exception):
    """A Rasa server could not load or does not serve the model (the message is shown to the admin)."""


async def _call(http: httpx.AsyncClient, method: str, url: str, token: str, **kwargs: Any) -> httpx.Response:
    try:
        return await http.request(method, url, params={"token": token}, **kwargs)
    except httpx.HTTPError as exc:
        raise LoadError(f"Rasa 无法连接（{type(exc).__name__}）") from exc


async def loaded_model(http: httpx.AsyncClient, url: str, token: str) -> str:
    """The file name of the model a Rasa server serves."""
    resp = await _call(http, "GET", f"{url}/status", token, timeout=httpx.Timeout(5.0, connect=2.0))
    if resp.status_code != 200:
        raise LoadError(f"Rasa /status 返回 HTTP {resp.status_code}")
    name = str(resp.json().get("model_file") or "")
    if not name:
        raise LoadError("Rasa 没有加载模型")
    return Path(name).name


async def load_model(http: httpx.AsyncClient, url: str, token: str, model: Path) -> None:
    """Load `model` into one Rasa server and check that it serves it and understands a sentence."""
    timeout = httpx.Timeout(LOAD_SECONDS, connect=3.0)
    resp = await _call(http, "PUT", f"{url}/model", token, json={"model_file": str(model)}, timeout=timeout)
    if resp.status_code != 204:
        detail = ""
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(resp.json().get("message", ""))[:300]
        raise LoadError(f"Rasa 加载模型失败（HTTP {resp.status_code}）{detail}")
    serving = await loaded_model(http, url, token)
    if serving != model.name:
        raise LoadError(f"Rasa 加载后报告的模型是 {serving}，不是 {model.name}")
    parsed = await _call(
        http, "POST", f"{url}/model/parse", token, json={"text": SANITY_TEXT}, timeout=httpx.Timeout(30.0, connect=3.0)
    )
    intent = parsed.json().get("intent", {}).get("name") if parsed.status_code == 200 else None
    if not intent:
        raise LoadError(f"新模型无法理解测试语句（HTTP {parsed.status_code}）")


async def load_everywhere(
    http: httpx.AsyncClient, urls: list[str], token: str, model: Path, previous: Path | None
) -> None:
    """Load `model` into every Rasa server in turn; on a failure, put `previous` back where it went in."""
    done: list[str] = []
    for index, url in enumerate(urls):
        try:
            await load_model(http, url, token, model)
        except LoadError as exc:
            if previous is not None:
                for number, back in enumerate(done, start=1):
                    try:
                        await load_model(http, back, token, previous)
                    except LoadError as again:
                        logger.error("Rasa server %d keeps the new model: the previous one failed: %s", number, again)
            where = f"（第 {index + 1}/{len(urls)} 个 Rasa 服务）" if len(urls) > 1 else ""
            raise LoadError(f"{exc}{where}") from exc
        done.append(url)
        logger.info("Rasa server %d of %d serves %s", index + 1, len(urls), model.name)
