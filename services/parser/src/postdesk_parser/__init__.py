"""postdesk parser service."""
