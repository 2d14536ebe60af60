"""The inbox: one page of conversations by view, filters and sort, with counts per view."""

from __future__ import annotations

import math

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from guichet.accounts.models import User
from guichet.accounts.selectors import team_list_for
from guichet.conversations import selectors
from guichet.conversations.models import Channel, Priority, Status
from guichet.web.views.common import (
    BadQuery,
    acting_user,
    query_int,
    query_text,
    render_error,
)

MAX_TAG_CHARS = 50


def _flag(query: QueryDict, name: str) -> bool:
    value = query.get(name, "")
    if value not in ("", "0", "1"):
        raise BadQuery(_("“%(name)s” must be 0 or 1.") % {"name": name})
    return value == "1"


def filters_from_query(query: QueryDict, user: User) -> selectors.InboxFilters:
    """Read the inbox filters from the query string; any value outside its allowlist → BadQuery."""
    views = selectors.available_views(user)
    view = query.get("view") or views[0]
    if view not in views:
        raise BadQuery(_("Unknown inbox view “%(value)s”.") % {"value": view})
    status = query.get("status", "")
    if status not in ("", "any", *Status.values):
        raise BadQuery(_("Unknown status “%(value)s”.") % {"value": status})
    priority = None
    if query.get("priority"):
        priority = query_int(query.get("priority", ""), _("priority"))
        if priority not in Priority.values:
            raise BadQuery(_("Unknown priority “%(value)s”.") % {"value": priority})
    team_id = query_int(query.get("team", ""), _("team")) if query.get("team") else None
    channel = query.get("channel", "")
    if channel and channel not in Channel.values:
        raise BadQuery(_("Unknown channel “%(value)s”.") % {"value": channel})
    tag = query_text(query.get("tag", ""), _("tag")).strip().lower()
    if len(tag) > MAX_TAG_CHARS:
        raise BadQuery(_("A tag has at most %(n)d characters.") % {"n": MAX_TAG_CHARS})
    sort = query.get("sort") or "due"
    if sort not in selectors.SORTS:
        raise BadQuery(_("Unknown sort order “%(value)s”.") % {"value": sort})
    return selectors.InboxFilters(
        view=view,
        status=status,
        priority=priority,
        team_id=team_id,
        channel=channel,
        tag=tag,
        overdue=_flag(query, "overdue"),
        snoozed=_flag(query, "snoozed"),
        delivery_failed=_flag(query, "failed"),
        sort=sort,
    )


def _sort_labels() -> dict[str, str]:
    return {
        "due": _("Due soonest"),
        "-due": _("Due latest"),
        "created": _("Oldest first"),
        "-created": _("Newest first"),
        "updated": _("Least recently active"),
        "-updated": _("Most recently active"),
        "priority": _("Lowest priority first"),
        "-priority": _("Highest priority first"),
    }


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    try:
        filters = filters_from_query(request.GET, user)
        page = query_int(request.GET.get("page", ""), _("page")) if request.GET.get("page") else 1
        page_size = settings.INBOX_PAGE_SIZE
        rows, total = selectors.inbox_page(
            user=user, filters=filters, page=page, page_size=page_size
        )
    except (BadQuery, selectors.InvalidFilter) as error:
        return render_error(request, str(error), 400)
    counts = selectors.inbox_counts(user=user)
    pages = max(1, math.ceil(total / page_size))
    view_labels = {
        "mine": _("Mine"),
        "unassigned": _("Unassigned"),
        "teams": _("My teams"),
        "all": _("All"),
    }
    return render(
        request,
        "web/inbox.html",
        {
            "rows": rows,
            "total": total,
            "filters": filters,
            "page": page,
            "pages": pages,
            "has_previous": page > 1,
            "has_next": page < pages,
            "views": [
                (v, view_labels[v], counts.get(v, 0)) for v in selectors.available_views(user)
            ],
            "overdue_count": counts.get("overdue", 0),
            "view_label": view_labels[filters.view],
            "teams": team_list_for(user=user),
            "statuses": Status.choices,
            "priorities": Priority.choices,
            "channels": Channel.choices,
            "sorts": list(_sort_labels().items()),
        },
    )
