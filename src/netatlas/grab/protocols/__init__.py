"""One module per protocol netatlas speaks."""
