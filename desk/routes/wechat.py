"""`GET/POST /wechat/callback`: the Official Account's server URL (服务器地址).

GET is the verification handshake (echostr back when the signature is right). POST is a push:
403 when it is not genuine or not fresh, 400 when malformed, 413 over 64 KB; otherwise 200 with a
passive reply or "success" (the answer then comes through the customer-service API).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from connectors.wechat import MAX_BODY_BYTES
from desk.channels.common import read_body
from desk.channels.wechat import CALLBACK_PATH

router = APIRouter()


@router.get(CALLBACK_PATH, include_in_schema=False)
async def wechat_handshake(request: Request) -> Response:
    """WeChat checks the server URL when the admin saves it."""
    channel = request.app.state.channels.wechat
    if channel is None:
        return Response(status_code=404)
    echostr = channel.handshake(dict(request.query_params))
    if echostr is None:
        return PlainTextResponse("forbidden", status_code=403)
    return PlainTextResponse(echostr)


@router.post(CALLBACK_PATH, include_in_schema=False)
async def wechat_push(request: Request) -> Response:
    """A message or event from a follower."""
    channel = request.app.state.channels.wechat
    if channel is None:
        return Response(status_code=404)
    body = await read_body(request.stream(), request.headers.get("content-length"), MAX_BODY_BYTES)
    if body is None:
        return PlainTextResponse("too large", status_code=413)
    answer = await channel.handle_post(dict(request.query_params), body)
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)
