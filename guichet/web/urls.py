"""URLs of the agent interface. Other parts of Guichet rely on these names."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from guichet.web.views import (
    attachments,
    auth,
    conversations,
    customers,
    inbox,
    outbox,
    search,
)

urlpatterns = [
    path("login/", auth.login_view, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", inbox.inbox, name="inbox"),
    path("c/new/", conversations.conversation_new, name="conversation_new"),
    path("c/<int:number>/", conversations.conversation_page, name="conversation"),
    path("c/<int:number>/claim", conversations.conversation_claim, name="conversation_claim"),
    path("c/<int:number>/assign", conversations.conversation_assign, name="conversation_assign"),
    path("c/<int:number>/status", conversations.conversation_status, name="conversation_status"),
    path(
        "c/<int:number>/priority", conversations.conversation_priority, name="conversation_priority"
    ),
    path("c/<int:number>/team", conversations.conversation_team, name="conversation_team"),
    path("c/<int:number>/tags", conversations.conversation_tags, name="conversation_tags"),
    path("c/<int:number>/snooze", conversations.conversation_snooze, name="conversation_snooze"),
    path("c/<int:number>/reply", conversations.conversation_reply, name="conversation_reply"),
    path("c/<int:number>/note", conversations.conversation_note, name="conversation_note"),
    path(
        "c/<int:number>/messages/<int:message_id>/retry",
        conversations.conversation_retry,
        name="conversation_retry",
    ),
    path("outbox/", outbox.outbox_page, name="outbox"),
    path("outbox/<str:channel>/<int:outbox_id>/retry", outbox.outbox_retry, name="outbox_retry"),
    path("customers/<int:pk>/", customers.customer_page, name="customer"),
    path(
        "customers/<int:pk>/identities",
        customers.customer_identity_add,
        name="customer_identity_add",
    ),
    path("customers/<int:pk>/edit", customers.customer_edit, name="customer_edit"),
    path("customers/<int:pk>/merge", customers.customer_merge, name="customer_merge"),
    path("attachments/<int:pk>/", attachments.attachment_download, name="attachment"),
    path("search/", search.search, name="search"),
]
