"""The report of a pipeline run: figures, tables and the answer page."""
