"""What crosses the wire: the versioned contracts and their schemas, the seed-shaped event
builder, and the client an identity stack mints tokens with."""
