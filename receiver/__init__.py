"""The webhook receiver: verifies vendor POSTs, normalizes them into observations and stores them."""
