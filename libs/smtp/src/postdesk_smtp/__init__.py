"""SMTP for postdesk: `client` talks to a tenant's server (send, probe) and classifies
every outcome; `settings` stores and loads the servers (passwords sealed by the keyring);
`quota` counts the sending quotas.

A library rather than part of the outbound service, because the gateway's
"test connection" and the CLI use it too, and services never import each
other (ADR 1).
"""
