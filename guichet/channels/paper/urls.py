"""URLs of paper mail (mounted at the site root: each path carries its own prefix)."""

from django.urls import URLPattern, URLResolver, path

from guichet.channels.paper import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("paper/", views.letters, name="paper_letters"),
    path("paper/<int:letter_id>/", views.letter_page, name="paper_letter"),
    path("paper/<int:letter_id>/link", views.letter_link, name="paper_letter_link"),
]
