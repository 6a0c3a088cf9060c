"""Read-side HTTP: authentication shared by every route, the query API and health."""
