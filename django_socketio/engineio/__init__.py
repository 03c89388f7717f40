"""Engine.IO v4: the transport layer under Socket.IO. Knows nothing of Socket.IO."""
