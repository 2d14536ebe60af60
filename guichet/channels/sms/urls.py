"""URLs of sms (mounted at the site root: each path carries its own prefix)."""

from django.urls import URLPattern, URLResolver, path

from guichet.channels.sms import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("sms/inbound", views.inbound_webhook, name="sms_inbound"),
    path("sms/receipt", views.receipt_webhook, name="sms_receipt"),
]
