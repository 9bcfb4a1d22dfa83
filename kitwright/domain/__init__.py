"""Pure rules of Kitwright. Nothing in this package does I/O."""
