"""One module per contestant of the comparison suite, each with the ASGI app `app` serving
every scenario of `benchmarks.compare.scenarios` it takes part in (see that module's doc)."""
