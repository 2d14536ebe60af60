from django.urls import path

from guichet.web import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
]
