"""The markdown report: read the history (data), build the mermaid charts (charts), format numbers and
names (format), render the jinja2 templates into reports/ (render)."""
