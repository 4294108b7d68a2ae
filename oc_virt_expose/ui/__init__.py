"""What the user sees: change lines, `-o` documents, tables, warnings, progress, the "how to reach it"
summary. Streams are injected; nothing here talks to the cluster."""
