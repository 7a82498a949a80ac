"""The /metrics exposition: the catalogue, the text writer, and one contributor per source."""
