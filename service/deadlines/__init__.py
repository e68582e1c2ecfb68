"""The deadline engine: reminder rules as data, fired by beat, one set-based query per rule."""
