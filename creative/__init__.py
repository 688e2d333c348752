"""The product library: element store, catalog, copy generation, banner composition."""
