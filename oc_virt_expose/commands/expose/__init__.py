"""`expose` (the default verb): `options` -> `plan` (pure) -> `run` (writes) -> `verification` (waits)."""
