"""Routes of /webhook_subscriptions (REST v2)."""

from django.urls import path

from sandbox.hooks import views

urlpatterns = [
    path("webhook_subscriptions", views.collection, name="webhook-subscriptions"),
    path("webhook_subscriptions/<str:sub_id>", views.detail, name="webhook-subscription"),
    path("webhook_subscriptions/<str:sub_id>/enable", views.enable, name="webhook-subscription-enable"),
    path("webhook_subscriptions/<str:sub_id>/ping", views.ping, name="webhook-subscription-ping"),
]
