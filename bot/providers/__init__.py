"""Video provider adapters behind one interface (see base.py)."""
