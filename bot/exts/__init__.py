"""Discord-facing command groups: read the interaction, call a service, render the answer."""
