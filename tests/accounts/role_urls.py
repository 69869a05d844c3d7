"""Test-only pages guarded by the role decorators, mounted beside the portal's own URLs."""

from django.http import HttpResponse
from django.template import engines
from django.urls import path
from django.views.decorators.http import require_POST

from accounts.roles import admin_required, reader_required, responder_required
from pdportal.urls import urlpatterns as portal_urlpatterns

PAGE = engines["django"].from_string(
    "<h1>incidents</h1>"
    "{% if can_act %}<form method=post action=/t/act/><button id=ack>Acknowledge</button></form>{% endif %}"
    "{% if is_portal_admin %}<a id=admin-link href=/t/admin/>Admin</a>{% endif %}"
)


@reader_required
def read_page(request):
    return HttpResponse(PAGE.render(request=request))


@responder_required
@require_POST
def act(request):
    return HttpResponse("acted")


@admin_required
def admin_page(request):
    return HttpResponse("admin")


urlpatterns = [
    path("t/read/", read_page),
    path("t/act/", act),
    path("t/admin/", admin_page),
    *portal_urlpatterns,
]
