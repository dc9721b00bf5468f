"""What a client's MAC address says, and how it is hidden: normalization, randomized MACs, manufacturer, pseudonym.

Below every other layer: the configuration, the receiver, the store and retention all use it.
"""
