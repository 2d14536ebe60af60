"""WebSocket routes of chat, mounted by `config/asgi.py`."""

from django.urls import path

from guichet.channels.chat.consumers import ConsoleConsumer, VisitorConsumer

websocket_urlpatterns = [
    path("ws/chat/", VisitorConsumer.as_asgi()),
    path("ws/chat/console/", ConsoleConsumer.as_asgi()),
]
