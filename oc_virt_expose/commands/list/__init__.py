"""`list`: `options` -> `run` (one LIST per kind, `access.listing`) -> `model.exposure` (pure matching) ->
the table (`ui.table`) or a `List` document."""
