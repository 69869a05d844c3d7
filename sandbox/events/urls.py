"""Events API v2 routes."""

from django.urls import path

from sandbox.events import views

urlpatterns = [
    path("v2/enqueue", views.enqueue, name="events-enqueue"),
    path("v2/change/enqueue", views.change_enqueue, name="events-change-enqueue"),
]
