"""The Discord adapter layer: delivery, views and error handling that know both sides."""
