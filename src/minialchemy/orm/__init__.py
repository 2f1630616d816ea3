"""The ORM layer: Session, mapping, unit of work, loading (see DESIGN.md)."""
