"""Who is calling, and may they: SigV4 request signatures (`sigv4`), `aws-chunked` payloads
(`chunked`), principals and access keys (`identity`), IAM policy evaluation (`policy`).

Each is pure — the caller looks secrets and policies up and passes the clock in — so every rule
is tested without a server.
"""
