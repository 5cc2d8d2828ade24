"""Channel adapters: each turns channel input into an InboundMessage and sends outbound messages."""
