"""postdesk gateway service."""
