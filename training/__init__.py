"""Learning: preference pairs, replay buffers, DPO, and the assistants that use them."""
