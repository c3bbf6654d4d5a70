"""Transport: what gembatch asks of a batch service, and the client that talks to it."""
