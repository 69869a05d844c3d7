"""The PagerDuty sandbox: a stateful emulator of the PagerDuty APIs PD Portal uses (its own project)."""
