"""Post alerts to Slack: incoming webhooks, or channels through a bot token.

slack-sdk's own retries are switched off: retrying belongs to the delivery
stage, which knows the retry horizon and does not block other subscribers.
`classify_*` turn Slack's answers into the project's errors; a 429 carries
its `Retry-After`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from wirewatch.errors import PermanentError, RateLimited, ServiceUnavailable, TransientError, WireWatchError
from wirewatch.settings import Settings

# chat.postMessage errors that may go away by themselves.
_TRANSIENT_API_ERRORS = {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout", "team_added_to_org"}


def _retry_after(headers: Mapping[str, object] | None) -> float | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            if isinstance(value, list):
                value = value[0] if value else None
            try:
                return max(0.0, float(str(value)))
            except (TypeError, ValueError):
                return None
    return None


def classify_webhook(status: int, body: str, headers: Mapping[str, object] | None, where: str) -> WireWatchError | None:
    """None when the webhook took the message, else the error to raise."""
    if status == 200:
        return None
    message = f"{where} answered {status} {body[:200]!r}"
    if status == 429:
        return RateLimited(message, _retry_after(headers))
    if status >= 500 or status == 408:
        return TransientError(message)
    # 400 invalid_payload, 403 invalid_token/action_prohibited, 404 no_service, 410 channel_is_archived
    return PermanentError(message)


def classify_api(status: int, error: str | None, headers: Mapping[str, object] | None, where: str) -> WireWatchError:
    message = f"{where} answered {status} {error or ''}".rstrip()
    if status == 429 or error == "ratelimited":
        return RateLimited(message, _retry_after(headers))
    if status >= 500 or error in _TRANSIENT_API_ERRORS:
        return TransientError(message)
    return PermanentError(message)


def _connection_error(exc: BaseException, where: str) -> WireWatchError:
    return ServiceUnavailable(f"{where}: {type(exc).__name__}: {exc}")


class SlackSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def webhook(self, url: str, payload: dict, name: str) -> None:
        """POST the payload to an incoming webhook; `name` stands for the URL in messages."""
        import aiohttp
        from slack_sdk.webhook.async_client import AsyncWebhookClient

        where = f"Slack webhook {name}"
        client = AsyncWebhookClient(url, timeout=int(max(1, self.settings.slack_timeout)), retry_handlers=[])
        try:
            response = await client.send_dict(payload)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _connection_error(exc, where) from exc
        error = classify_webhook(response.status_code, response.body or "", response.headers, where)
        if error:
            raise error

    async def channel(self, channel: str, payload: dict) -> None:
        """chat.postMessage to a channel with the bot token."""
        import aiohttp
        from slack_sdk.errors import SlackApiError
        from slack_sdk.web.async_client import AsyncWebClient

        where = f"Slack chat.postMessage to {channel}"
        token = self.settings.slack_bot_token
        if token is None:
            raise PermanentError(f"{where}: no bot token (set WIREWATCH_SLACK_BOT_TOKEN)")
        client = AsyncWebClient(
            token=token.get_secret_value(),
            base_url=self.settings.slack_api_url,
            timeout=int(max(1, self.settings.slack_timeout)),
            retry_handlers=[],
        )
        try:
            await client.chat_postMessage(channel=channel, text=payload["text"], blocks=payload["blocks"],
                                        metadata=payload.get("metadata"), unfurl_links=False)
        except SlackApiError as exc:
            response = exc.response
            error = response.get("error") if isinstance(response.data, dict) else None
            raise classify_api(response.status_code, error, response.headers, where) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _connection_error(exc, where) from exc
