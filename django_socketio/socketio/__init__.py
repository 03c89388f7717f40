"""Socket.IO v5: namespaces, events and acknowledgements on top of Engine.IO."""
