"""postdesk command line."""
