"""Central-side protocols (REST, SIP2) behind the one `CatalogBackend` seam."""
