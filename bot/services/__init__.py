"""Application services: the money paths and the job runner. No discord imports."""
