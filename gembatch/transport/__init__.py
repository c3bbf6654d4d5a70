"""Transport: the protocol for what gembatch asks of a batch service, its backends, and their registry."""
