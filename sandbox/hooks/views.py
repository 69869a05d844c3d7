"""REST v2 /webhook_subscriptions views (thin: authorise, call one action, render)."""

from django.http import HttpResponse

from sandbox.api.errors import invalid
from sandbox.api.http import body, get_or_404, page, require, respond, routes
from sandbox.hooks import actions
from sandbox.hooks.models import WebhookSubscription
from sandbox.hooks.serializers import subscription_json

FILTER_QUERY = {"account": "account_reference", "service": "service_reference", "team": "team_reference"}


def _list(request):
    require(request, "webhook_subscriptions.read")
    qs = WebhookSubscription.objects.all()
    ftype = request.GET.get("filter_type")
    fid = request.GET.get("filter_id")
    if ftype:
        if ftype not in FILTER_QUERY:
            raise invalid("filter_type must be one of account, service, team")
        if ftype != "account" and not fid:
            raise invalid("filter_id is required when filter_type is service or team")
        qs = qs.filter(filter_type=FILTER_QUERY[ftype])
        if ftype != "account":
            qs = qs.filter(filter_id=fid)
    return page(request, qs, "webhook_subscriptions", subscription_json)


def _create(request):
    require(request, "webhook_subscriptions.write")
    sub = actions.subscription_create_from_body(body=body(request))
    return respond({"webhook_subscription": subscription_json(sub, reveal_secret=True)})


def _get(request, sub_id):
    require(request, "webhook_subscriptions.read")
    return respond({"webhook_subscription": subscription_json(get_or_404(WebhookSubscription, sub_id))})


def _update(request, sub_id):
    require(request, "webhook_subscriptions.write")
    sub = actions.subscription_update(subscription=get_or_404(WebhookSubscription, sub_id), body=body(request))
    return respond({"webhook_subscription": subscription_json(sub)})


def _delete(request, sub_id):
    require(request, "webhook_subscriptions.write")
    actions.subscription_delete(subscription=get_or_404(WebhookSubscription, sub_id))
    return respond(None, status=204)


def _enable(request, sub_id):
    require(request, "webhook_subscriptions.write")
    sub = actions.subscription_enable(subscription=get_or_404(WebhookSubscription, sub_id))
    return respond({"webhook_subscription": subscription_json(sub)})


def _ping(request, sub_id):
    require(request, "webhook_subscriptions.write")
    user = getattr(request.pd_actor, "user", None)
    actions.subscription_ping(subscription=get_or_404(WebhookSubscription, sub_id), agent=user)
    return HttpResponse(status=202)


collection = routes(GET=_list, POST=_create)
detail = routes(GET=_get, PUT=_update, DELETE=_delete)
enable = routes(POST=_enable)
ping = routes(POST=_ping)
