"""Search across conversations and customers, scoped by the acting user (conversations.search)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from guichet.conversations.search import search_conversations, search_customers
from guichet.core.exceptions import GuichetError
from guichet.web.views.common import (
    BadQuery,
    acting_user,
    error_status,
    query_text,
    render_error,
)

MAX_QUERY_CHARS = 200


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    try:
        query = query_text(request.GET.get("q", ""), _("search")).strip()
    except BadQuery as error:
        return render_error(request, str(error), 400)
    if len(query) > MAX_QUERY_CHARS:
        return render_error(
            request, _("A search has at most %(n)d characters.") % {"n": MAX_QUERY_CHARS}, 400
        )
    try:
        conversations = search_conversations(user=user, query=query) if query else []
        customers = search_customers(user=user, query=query) if query else []
    except GuichetError as error:
        return render_error(request, str(error), error_status(error))
    return render(
        request,
        "web/search.html",
        {
            "query": query,
            "conversations": conversations,
            "customers": customers,
        },
    )
