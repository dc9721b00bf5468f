"""A synthetic shop whose phones move, probe and connect like real ones, rendered as real vendor webhook traffic.

`simulator.run.simulate(shop, start, end, seed)` is the entry point for code, `presence simulate` for people.
Data flows one way: layout (APs, floor, street) → people (who is where, when, with which MAC) → radio (what an AP
hears of a phone) → traffic (frames → one aggregated record per AP, interval and phone) → render (records → the
receiver's own payload models and their JSON: EnGenius and Aerohive per AP, Meraki v3 per network) → send (signed
HTTP POSTs) or database (straight into the database through the receiver's own code path; backfill runs that on one
process per core). truth keeps what really happened, for accuracy tests.
"""
