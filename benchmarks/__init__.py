"""jaxpde's benchmarks: ``python -m benchmarks [--quick] [--json out.json]`` runs them all
(see ``benchmarks/__main__.py``); each ``bench_*.py`` script also runs on its own."""
