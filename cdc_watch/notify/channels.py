"""The one list of notification channels.

Each entry builds its channel from the alerting config (None when that channel is not
configured). Adding a notifier is its module (a `Channel` and a `build`), its config model and
one line here; the service and the wiring know channels only through this list.
"""

from __future__ import annotations

from cdc_watch.notify import alertmanager, sentry, slack
from cdc_watch.notify.channel import Builder

REGISTRY: tuple[Builder, ...] = (
    slack.build,
    sentry.build,
    alertmanager.build,
)
