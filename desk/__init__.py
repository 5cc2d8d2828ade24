"""The desk: FastAPI app with the gateway, web chat, health checks and the `helpdesk` CLI."""
