"""Top-level URL map: the agent UI, the Django admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("guichet.web.urls")),
]
