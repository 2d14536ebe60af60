"""URLs of the web form and customer portal (mounted at the root: paths carry their prefix)."""

from django.urls import URLPattern, URLResolver, path

from guichet.channels.webform.views import contact, portal

app_name = "webform"

urlpatterns: list[URLPattern | URLResolver] = [
    path("contact/", contact.contact, name="contact"),
    path("contact/sent/<str:signed>/", contact.contact_sent, name="contact_sent"),
    path("portal/", portal.portal, name="portal"),
    path("portal/link/", portal.portal_link_request, name="portal_link_request"),
    path("portal/login/<str:token>/", portal.portal_login, name="portal_login"),
    path("portal/logout/", portal.portal_logout, name="portal_logout"),
    path("portal/c/<int:number>/", portal.portal_conversation, name="portal_conversation"),
    path(
        "portal/c/<int:number>/reply/",
        portal.portal_conversation_reply,
        name="portal_conversation_reply",
    ),
    path("portal/attachments/<int:pk>/", portal.portal_attachment, name="portal_attachment"),
]
