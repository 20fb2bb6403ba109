"""Prometheus metrics shared by the API, the workers and the activities (prometheus_client)."""
