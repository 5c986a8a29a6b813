"""``dfdetect serve --engine ray``: the same service on Ray Serve. The FastAPI app is the
ingress, the model scores faces in its own replicas (Ray Serve's request batching), and jobs
live in one job ledger every replica reads and writes. Ray is imported by the modules that use
it, never by this package."""
