"""Audio utilities on the ground floor, shared by data loaders and adapters (neither imports the other)."""
