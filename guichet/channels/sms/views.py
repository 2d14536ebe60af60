"""The SMS provider's webhooks: inbound texts and delivery receipts (signed, see adapters.py).

Answers are JSON: 200 when handled (also for a duplicate or an unknown receipt, so the provider
stops retrying), 4xx with a reason for a request we refuse; nothing is stored for a refused one.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from guichet.channels.sms.adapters import WebhookRejected, adapter_get
from guichet.channels.sms.services import sms_receipt_apply, sms_receive
from guichet.core.exceptions import InvalidInput


def _rejected(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


@csrf_exempt  # called by the provider, authenticated by the body's HMAC
@require_POST
def inbound_webhook(request: HttpRequest) -> JsonResponse:
    try:
        inbound = adapter_get().parse_inbound(body=request.body, headers=request.headers)
        received = sms_receive(inbound)
    except WebhookRejected as exc:
        return _rejected(exc.status, exc.reason)
    except InvalidInput as exc:
        return _rejected(400, str(exc))
    answer: dict = {"status": received.outcome}
    if received.result is not None:
        answer["conversation"] = received.result.conversation.number
    return JsonResponse(answer)


@csrf_exempt
@require_POST
def receipt_webhook(request: HttpRequest) -> JsonResponse:
    try:
        receipt = adapter_get().parse_receipt(body=request.body, headers=request.headers)
    except WebhookRejected as exc:
        return _rejected(exc.status, exc.reason)
    matched = sms_receipt_apply(receipt)
    return JsonResponse({"status": "recorded" if matched else "unknown_id"})
