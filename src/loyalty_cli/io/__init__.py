"""Reading, validating and writing exports. Everything here is about files; metrics/ never sees a path."""
