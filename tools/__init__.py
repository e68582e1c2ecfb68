"""Tools for developers and benchmarks, kept out of the runtime package (`service`).

`tools.generate` builds a national-scale synthetic data set (`flask --app service
generate-data`, `make bench`, the tests at scale); `tools.vocabulary` is its Thai word list.
The service never imports this folder at runtime: the generate-data command imports the
generator inside its body, so the production image (which has no tools/) runs without it.
"""
