"""rasa-sdk custom actions, one module per feature. No side effects at import."""
