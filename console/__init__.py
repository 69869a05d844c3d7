"""Admin-only console pages: users, status-update templates, the raw API console and the audit log."""
