"""`delete`: `options` -> reads -> `plan` (pure: which Services, Routes and labels) -> `run` (writes)."""
