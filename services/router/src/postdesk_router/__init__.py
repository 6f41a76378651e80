"""postdesk router service."""
