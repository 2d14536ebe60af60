"""URLs of phone and callbacks (mounted at the site root: each path carries its own prefix)."""

from django.urls import URLPattern, URLResolver, path

from guichet.channels.phone import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("callback/", views.callback_request, name="callback_request"),
    path("callback/status/<str:ref>/", views.callback_status, name="callback_status"),
    path("phone/lookup", views.caller_lookup, name="phone_lookup"),
    path("phone/ivr/callback", views.ivr_callback, name="phone_ivr_callback"),
    path("phone/calls/new", views.call_log, name="phone_call_log"),
    path("phone/callbacks/", views.callback_queue, name="callback_queue"),
    path("phone/callbacks/take", views.callback_take, name="callback_take"),
    path("phone/callbacks/<int:pk>/attempt", views.callback_attempt, name="callback_attempt"),
    path("phone/callbacks/<int:pk>/cancel", views.callback_cancel, name="callback_cancel"),
]
