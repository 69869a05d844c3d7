"""Sign-in, connections, tokens, roles, the people directory and the audit log."""
