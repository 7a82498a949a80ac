"""The on-call view: the status document (`view`), its page (`page`) and their endpoints."""
