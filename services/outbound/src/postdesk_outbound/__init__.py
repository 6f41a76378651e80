"""postdesk outbound service."""
