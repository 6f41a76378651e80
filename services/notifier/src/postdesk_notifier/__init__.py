"""postdesk notifier service."""
