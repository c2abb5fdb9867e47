"""Scoring time of one source tree, for before/after comparisons of the scoring path: MAP-fitted BG/NBD +
Gamma-Gamma (1,000 Laplace draws) on a simulated log's summary, ``clvmodels.scoring.score`` with 1,000
draws, 52 weeks, 10% a year; the first call (kernels compiled or loaded) and the second.

Usage (run the trees alternately, each in a fresh process, under the benchmark lock)::

    git archive 80deb35 clvmodels | tar -x -C /tmp/old
    for t in /tmp/old . /tmp/old .; do .venv/bin/python benchmarks/score_ab.py $t benchmarks/data/tx_sim_100000.parquet; done

Prints one JSON line: the tree, the customers, both calls' seconds, the total CLV (a check that both
trees compute the same thing) and the number of columns of the table."""
import json, sys, time, warnings
tree, log = sys.argv[1], sys.argv[2]
sys.path.insert(0, tree)
warnings.simplefilter("ignore")
import clvmodels
from clvmodels import BetaGeoModel, GammaGammaModel
from clvmodels.scoring import score
s = clvmodels.summarize(log, observation_end="2023-12-31", time_unit="W")
bg = BetaGeoModel(method="map", seed=1).fit(s)
gg = GammaGammaModel(method="map", seed=1).fit(s)
t = []
for _ in range(2):
    t0 = time.perf_counter()
    tab = score(s, bg, gg, "52W", discount_rate=0.1, max_draws=1000)
    t.append(time.perf_counter() - t0)
print(json.dumps({"tree": tree, "file": clvmodels.__file__, "n": len(s), "first_s": t[0], "second_s": t[1],
                  "clv_sum": float(tab["clv"].sum()), "cols": len(tab.columns)}))
