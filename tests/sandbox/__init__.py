"""The sandbox cluster the end-to-end tests and the demo run against (see README.md, "The sandbox")."""
