"""Top-level URL map: the Django admin, each channel's pages (public and agent), the agent UI."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("guichet.channels.webform.urls")),
    path("", include("guichet.channels.chat.urls")),
    path("", include("guichet.channels.phone.urls")),
    path("", include("guichet.channels.sms.urls")),
    path("", include("guichet.channels.appointments.urls")),
    path("", include("guichet.channels.counter.urls")),
    path("", include("guichet.channels.paper.urls")),
    path("", include("guichet.triage.urls")),
    path("", include("guichet.web.urls")),
]

# Guichet's error pages, for agents and customers alike (405: `guichet.web.middleware`).
handler403 = "guichet.web.views.errors.forbidden"
handler404 = "guichet.web.views.errors.not_found"
handler500 = "guichet.web.views.errors.server_error"
