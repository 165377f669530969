"""Conformance suites: scipy.ndimage's and dask-image's own tests run against bmia_dask."""
