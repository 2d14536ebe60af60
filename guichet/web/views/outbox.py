"""The outbox page: e-mails and SMS still waiting, being sent or failed, for supervisors."""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from guichet.accounts.permissions import is_supervisor
from guichet.channels import outbox
from guichet.core.exceptions import GuichetError
from guichet.web.views.common import acting_user, render_error

MAX_PAGE = 100_000


@login_required
@require_GET
def outbox_page(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    if not is_supervisor(user):
        raise Http404(_("No such page."))
    raw = request.GET.get("page") or "1"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6 and 1 <= int(raw) <= MAX_PAGE):
        message = _("“%(value)s” is not a valid %(name)s.") % {"value": raw, "name": _("page")}
        return render_error(request, message, 400)
    page = int(raw)
    page_size = settings.INBOX_PAGE_SIZE
    rows, total = outbox.outbox_page(user=user, page=page, page_size=page_size)
    pages = max(1, math.ceil(total / page_size))
    return render(
        request,
        "web/outbox.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": pages,
            "has_previous": page > 1,
            "has_next": page < pages,
        },
    )


@login_required
@require_POST
def outbox_retry(request: HttpRequest, channel: str, outbox_id: int) -> HttpResponse:
    user = acting_user(request)
    if not is_supervisor(user):
        raise Http404(_("No such page."))
    try:
        number = outbox.outbox_retry_now(actor=user, channel=channel, outbox_id=outbox_id)
    except outbox.OutboxRowMissing:
        raise Http404(_("No such message in the outbox.")) from None
    except GuichetError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("Sending again now (conversation #%(n)d).") % {"n": number})
    return redirect("outbox")
