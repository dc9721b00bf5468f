"""One module per vendor: the payload's pydantic model and its mapping to sightings."""
