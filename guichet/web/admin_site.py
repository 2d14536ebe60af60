"""The admin site: branded Guichet, translated, and signed in to through the same throttle as
the agent sign-in page (web.signin), so `/admin/login/` is no side door for guessing passwords."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from guichet.web.signin import ThrottledAdminAuthenticationForm, is_throttled, remember_device


class GuichetAdminSite(admin.AdminSite):
    site_header = _("Guichet administration")
    site_title = _("Guichet administration")
    index_title = _("Settings and records")
    login_form = ThrottledAdminAuthenticationForm

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().login(request, extra_context)
        if request.method != "POST":
            return response
        if response.status_code == 302:  # signed in
            remember_device(request, response, request.user.get_username())
        elif isinstance(response, TemplateResponse):
            form = (response.context_data or {}).get("form")
            if form is not None and is_throttled(form):
                response.status_code = 429
        return response
