"""``civlake serve``: CKAN-compatible directory, DCAT, downloads, agency API, verification."""
