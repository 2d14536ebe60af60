"""URLs of live chat (mounted at the site root: each path carries its own prefix)."""

from django.urls import URLPattern, URLResolver, path

from guichet.channels.chat import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("chat/", views.chat_page, name="chat_page"),
    path("chat/send", views.chat_send, name="chat_send"),
    path("chat/api/messages", views.chat_api_messages, name="chat_api_messages"),
    path("chat/api/send", views.chat_api_send, name="chat_api_send"),
    path("chat/widget.js", views.widget_js, name="chat_widget_js"),
    path("chat/demo/", views.widget_demo, name="chat_widget_demo"),
    path("chat/console/", views.console, name="chat_console"),
    path("chat/console/<int:number>/reply", views.console_reply, name="chat_console_reply"),
    path("chat/console/accepting", views.console_accepting, name="chat_console_accepting"),
]
