"""HTTP routers, one per resource; each is thin over a service-layer module."""
