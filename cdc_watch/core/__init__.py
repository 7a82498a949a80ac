"""What every other package builds on: the value model, the snapshot, polling, time, the state
file, secret redaction and logging. Nothing here knows a particular source."""
