"""Domain: plain Python rules and models; nothing here imports discord or does I/O."""
