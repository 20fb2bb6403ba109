"""Simulations in skipped time: the real workflows and activities on Temporal's time-skipping
test server, with a throwaway database and outbox (`loyalflow simulate`, `loyalflow demo`)."""
