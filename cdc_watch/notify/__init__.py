"""Notifications: deciding what to tell people (plan, silences), saying it (Slack, Sentry),
and getting it there (delivery queue with retry and rate limit) without blocking polling."""
