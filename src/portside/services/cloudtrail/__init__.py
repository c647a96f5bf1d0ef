"""CloudTrail: every API call becomes an event record; LookupEvents finds them."""
