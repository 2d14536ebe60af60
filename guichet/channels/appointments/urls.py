"""URLs of appointments (mounted at the site root: each path carries its own prefix)."""

from django.urls import URLPattern, URLResolver, path

from guichet.channels.appointments import views

app_name = "appointments"

urlpatterns: list[URLPattern | URLResolver] = [
    path("book/", views.book_start, name="book_start"),
    path("book/times/", views.book_slots, name="book_slots"),
    path("book/manage/<str:token>/", views.public_manage, name="public_manage"),
    path("appointments/", views.agent_day, name="agent_day"),
    path("appointments/book/", views.agent_book, name="agent_book"),
    path("appointments/<int:pk>/attendance/", views.agent_attendance, name="agent_attendance"),
]
