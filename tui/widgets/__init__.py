"""The dashboard's widgets, one per file, in folders by screen area."""
