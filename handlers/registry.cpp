// Handler registry (placeholder until the handlers land).
