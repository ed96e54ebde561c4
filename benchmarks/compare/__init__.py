"""The comparison suite: bare against a raw ASGI floor and its peers, on the scenarios of
py-frameworks-bench plus hello, a 203-route table and a 404.

- `scenarios`: what is sent, what must come back, and who serves what (`SCENARIOS`,
  `CONTESTANTS`, the checks both runners make before timing);
- `apps/`: one module per contestant, each serving every scenario from one ASGI app,
  importable from the repository root as `benchmarks.compare.apps.<name>:app`;
- `inprocess`: `app(scope, receive, send)` timed in one loop, one subprocess per contestant;
- `http_bench`: the same apps under uvicorn, loaded by wrk.
"""
