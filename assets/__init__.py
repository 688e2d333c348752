"""Sample elements, demo catalogs and the font lookup."""
