"""MySQL / MariaDB / Aurora binlog source: `poll`, `parse` (pure), `model` (typed values), and the
pure helpers the poll carries state with (`tracking`) and matches connectors with (`matching`)."""
