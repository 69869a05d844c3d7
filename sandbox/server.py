"""Run the sandbox: migrate its own database, seed if asked, then serve with a threaded WSGI server (waitress)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sandbox", description="Run the PagerDuty sandbox (REST v2, OAuth, Events, webhooks)."
    )
    p.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", 8010)))
    p.add_argument("--host", default=os.environ.get("SANDBOX_HOST", "127.0.0.1"))
    p.add_argument("--db", help="SQLite file for the sandbox's own database (default: <repo>/sandbox.sqlite3)")
    p.add_argument("--seed", action="store_true", help="reset the account to the deterministic seed before serving")
    p.add_argument("--size", type=int, default=None, help="number of seeded incidents (default 200)")
    p.add_argument("--latency-ms", type=int, default=None, help="injected latency per REST request")
    p.add_argument("--simulate", action="store_true", help="generate live traffic (triggers, acks, resolves)")
    p.add_argument("--show-keys", action="store_true", help="print the API token and routing keys")
    p.add_argument("--portal-webhook", default=None, help="subscribe this URL to every webhook event")
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--seed-only", action="store_true", help="migrate and seed, then exit (no server)")
    return p


def configure(args) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.settings"
    if args.db:
        os.environ["SANDBOX_DATABASE_URL"] = f"sqlite:///{Path(args.db).resolve()}"
    if args.latency_ms is not None:
        os.environ["SANDBOX_LATENCY_MS"] = str(args.latency_ms)
    if args.size is not None:
        os.environ["SANDBOX_SEED_SIZE"] = str(args.size)


def prepare(args) -> dict:
    """Migrate, seed when asked (or when the database is empty); return the seed summary."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from sandbox.api import models, seed

    summary = {}
    if args.seed or not models.User.objects.exists():
        summary = seed.seed(args.size or seed.DEFAULT_SIZE)
    return summary


def _portal_webhook(url: str) -> None:
    """Subscribe the portal's receiver to every event, once: a restart reuses the same subscription."""
    from sandbox.hooks import actions, payloads
    from sandbox.hooks.models import WebhookSubscription

    secrets = os.environ.get("SANDBOX_WEBHOOK_SECRET") or os.environ.get("PAGERDUTY_WEBHOOK_SECRETS") or ""
    secret = secrets.split(",")[0].strip() or None
    sub = WebhookSubscription.objects.filter(url=url).first()
    if sub is None:
        sub = actions.subscription_create(
            url=url, events=list(payloads.EVENT_TYPES), description="PD Portal", secret=secret
        )
    elif secret and sub.secret != secret:
        sub.secret = secret
        sub.save(update_fields=["secret"])
    print(f"webhook subscription {sub.id} -> {url} (signing secret: {sub.secret})", flush=True)


def show_keys(base_url: str) -> None:
    from django.conf import settings

    from sandbox.api import seed

    print(f"REST/Events/OAuth base URL: {base_url}", flush=True)
    print(f"Account API token (SANDBOX_API_TOKEN): {settings.SANDBOX_API_TOKEN}", flush=True)
    for name, key in sorted(seed.routing_keys().items()):
        print(f"  routing key {name:<20} {key}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure(args)
    summary = prepare(args)
    base_url = f"http://{args.host}:{args.port}"
    if summary:
        print(f"seeded: {summary.get('seeded')}", flush=True)
    if args.seed_only:
        return 0
    if args.portal_webhook:
        _portal_webhook(args.portal_webhook)
    if args.show_keys:
        show_keys(base_url)
    if args.simulate and importlib.util.find_spec("sandbox.simulate") is not None:
        from sandbox import simulate

        simulate.start()
    import waitress

    from sandbox.wsgi import application

    print(f"PagerDuty sandbox listening on {base_url}", flush=True)
    waitress.serve(
        application,
        host=args.host,
        port=args.port,
        threads=args.threads,
        ident="sandbox",
        channel_timeout=120,
        _quiet=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
