"""URLs of the counter and walk-in queue (mounted at the root: paths carry their prefix)."""

from django.urls import URLPattern, URLResolver, path

from guichet.channels.counter import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("kiosk/<int:site_id>/", views.kiosk, name="counter_kiosk"),
    path("kiosk/ticket/<slug:token>/", views.ticket_page, name="counter_ticket"),
    path("board/<int:site_id>/", views.board, name="counter_board"),
    path("board/<int:site_id>/state.json", views.board_state, name="counter_board_state"),
    path("counter/", views.console, name="counter_console"),
    path("counter/sites/<int:site_id>/next", views.call_next, name="counter_call_next"),
    path("counter/tickets/<int:ticket_id>/recall", views.recall, name="counter_recall"),
    path(
        "counter/tickets/<int:ticket_id>/<str:outcome>",
        views.finish,
        name="counter_finish",
    ),
    path(
        "counter/tickets/<int:ticket_id>/conversation/open",
        views.conversation_open,
        name="counter_conversation_open",
    ),
    path(
        "counter/tickets/<int:ticket_id>/conversation/link",
        views.conversation_link,
        name="counter_conversation_link",
    ),
    path("counter/metrics/", views.metrics, name="counter_metrics"),
]
