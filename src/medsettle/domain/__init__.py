"""The pure domain core: no database, web or framework imports live here."""
