"""Every portal user gets a Profile, so `user.profile` always exists."""

from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts.create_profile")
def create_profile(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from .models import Profile

        Profile.objects.get_or_create(user=instance)
