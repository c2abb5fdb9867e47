"""Fitting shared by every model: NUTS (nutpie, or PyMC's own sampler), MAP with a Laplace
approximation, and sampler diagnostics that are always surfaced.

Why nutpie with low-rank mass-matrix adaptation by default: the BG/NBD posterior has strongly
correlated pairs (r with alpha, a with b) and the Gamma-Gamma posterior is a long p-v ridge. A diagonal
mass matrix explores those slowly; nutpie's low-rank adaptation learns the correlation and gives several
times the effective sample size per second on the CDNOW sample.
"""
from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy import special

from ..errors import FitError

log = logging.getLogger("clvmodels")

#: thresholds behind the diagnostic warnings (Vehtari et al. 2021 for R-hat and ESS)
RHAT_MAX = 1.01
ESS_MIN_PER_CHAIN = 100


#: the ways to fit: NUTS draws; the posterior mode with draws of its Laplace approximation; the mode alone
FIT_METHODS = ("nuts", "map", "mode")
#: methods whose "posterior" is one point (no parameter uncertainty): 'mode' (a fit) and 'fixed'
#: (:meth:`BayesianModel.from_params` with scalar values)
POINT_METHODS = ("mode", "fixed")


#: the Diagnostics note of each method without sampler diagnostics (R-hat and ESS are left empty, not faked)
METHOD_NOTES = {
    "map": ("posterior mode with draws of its Laplace approximation (a normal approximation, not a sampler): "
            "R-hat and ESS do not apply"),
    "mode": ("the posterior mode alone (one point, method 'mode'): no parameter uncertainty, so intervals over the "
             "parameters collapse to the point; R-hat and ESS do not apply"),
    "fixed": ("parameter values given by the user (from_params), not fitted: no data, no sampler, R-hat and ESS "
              "do not apply"),
}


#: nutpie's mass-matrix adaptations that FitConfig accepts (the first is the default)
ADAPTATIONS = ("low_rank", "diag")


class ConvergenceWarning(UserWarning):
    """The sampler's diagnostics say the posterior may not be trustworthy."""


@dataclass
class FitConfig:
    """How to fit. ``method``: 'nuts' (default), 'map' (quick: posterior mode plus a Laplace
    approximation for uncertainty; predictions are averaged over its draws) or 'mode' (the posterior
    mode alone, one draw: predictions plugged in at it, as lifetimes and the papers print them, with no
    parameter uncertainty). ``sampler``: 'auto' (nutpie if it works, else PyMC's), 'nutpie' or 'pymc'.
    ``adaptation``: nutpie's mass-matrix adaptation, 'low_rank' (default: learns the correlated pairs, see
    the module docstring) or 'diag' (a diagonal mass matrix, nutpie's and PyMC's own default; what a
    like-for-like comparison with a tool that uses it needs). PyMC's own sampler always adapts a diagonal
    one."""

    method: str = "nuts"
    sampler: str = "auto"
    chains: int = 4
    draws: int = 1000
    tune: int = 1000
    seed: int | None = None
    target_accept: float = 0.8
    progressbar: bool = True
    cores: int | None = None
    laplace_draws: int = 1000
    adaptation: str = "low_rank"

    def __post_init__(self):
        if self.method not in FIT_METHODS:
            raise ValueError(f"method must be 'nuts', 'map' or 'mode', got {self.method!r}")
        if self.sampler not in ("auto", "nutpie", "pymc"):
            raise ValueError(f"sampler must be 'auto', 'nutpie' or 'pymc', got {self.sampler!r}")
        if self.adaptation not in ADAPTATIONS:
            raise ValueError(f"adaptation must be 'low_rank' or 'diag', got {self.adaptation!r}")
        for name in ("chains", "draws"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.tune < 0:
            raise ValueError("tune must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Diagnostics:
    """Sampler diagnostics of one fit, per parameter and overall."""

    method: str
    sampler: str
    chains: int
    draws: int
    seconds: float
    r_hat: dict[str, float] = field(default_factory=dict)
    ess_bulk: dict[str, float] = field(default_factory=dict)
    ess_tail: dict[str, float] = field(default_factory=dict)
    divergences: int = 0
    problems: list[str] = field(default_factory=list)
    #: what the numbers mean when they are not a sampler's (MAP/Laplace, the mode alone, given values):
    #: why R-hat and ESS are absent
    note: str = ""
    #: seconds of ``seconds`` spent compiling the model for the sampler (None: not measured apart, as
    #: with PyMC's own sampler or MAP), and how the compiled model was obtained: "reused" (compiled
    #: earlier in this process, the data swapped in), "built" (callbacks compiled or loaded from the
    #: on-disk cache), "nutpie" (nutpie's own compile): :mod:`clvmodels.models.compiled`
    compile_seconds: float | None = None
    compiled: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Diagnostics":
        d = dict(d)
        d.pop("ok", None)
        return cls(**d)


#: what a fit says when its model must compile (measured on the shared 2-core machine with empty caches:
#: the first BG/NBD fit with the Gamma-Gamma, scoring included, 26 s; `clv compile` does it at set-up)
FIT_COMPILE_MESSAGE = ("compiling {label} for the sampler (first fit of this model on this machine: "
                       "about 10-20 s; cached for later runs; clv compile does it ahead)")


def _sample_nutpie(model, config: FitConfig, label: str = "model"):
    import nutpie

    from .compiled import compile_model

    def notice():
        text = FIT_COMPILE_MESSAGE.format(label=label)
        if config.progressbar:
            print(f"[clv] {text}", file=sys.stderr, flush=True)
        else:
            log.info(text)

    compiled = compile_model(model, notice=notice)
    log.debug("compiled model: %s in %.2f s", compiled.source, compiled.seconds)
    return nutpie.sample(
        compiled.model, draws=config.draws, tune=config.tune, chains=config.chains, cores=config.cores,
        seed=config.seed, progress_bar=config.progressbar, adaptation=config.adaptation, save_warmup=False,
        target_accept=config.target_accept,
    ), "nutpie", compiled


def _sample_pymc(model, config: FitConfig):
    import pymc as pm

    idata = pm.sample(
        draws=config.draws, tune=config.tune, chains=config.chains, cores=config.cores or min(config.chains, 2),
        random_seed=config.seed, progressbar=config.progressbar, target_accept=config.target_accept,
        model=model, nuts_sampler="pymc", compute_convergence_checks=False,
    )
    return idata, "pymc", None


def sample_nuts(model, config: FitConfig, label: str = "model"):
    """Run NUTS; returns (DataTree with 'posterior' and 'sample_stats', sampler name, the
    :class:`~clvmodels.models.compiled.Compiled` model for nutpie, else None)."""
    if config.sampler in ("auto", "nutpie"):
        try:
            return _sample_nutpie(model, config, label)
        except ImportError:
            if config.sampler == "nutpie":
                raise FitError("sampler='nutpie' was asked for but nutpie is not installed") from None
            log.warning("nutpie is not available; falling back to PyMC's NUTS sampler")
        except Exception as exc:  # nutpie could not compile this model: say so, then fall back
            if config.sampler == "nutpie":
                raise FitError(f"nutpie failed: {exc}") from exc
            warnings.warn(f"nutpie failed ({exc}); falling back to PyMC's NUTS sampler", RuntimeWarning, stacklevel=3)
    return _sample_pymc(model, config)


def fit_map(model, param_names: list[str], config: FitConfig, *, laplace: bool = True) -> xr.Dataset:
    """Posterior mode by L-BFGS in the unconstrained space, then a Laplace approximation there.

    Returns a posterior Dataset with dims (chain=1, draw=laplace_draws). The first draw is the mode
    itself, so ``posterior.isel(draw=0)`` is the MAP estimate (with flat priors: the MLE, since the
    optimisation is over log-parameters with the Jacobian left out). With ``laplace=False`` (method
    'mode') the Dataset holds the mode alone (chain=1, draw=1) and no curvature is computed.
    """
    from scipy import optimize

    value_vars = list(model.value_vars)
    names = [v.name for v in value_vars]
    init = model.initial_point(random_seed=config.seed)
    shapes = [np.shape(init[n]) for n in names]
    sizes = [int(np.prod(s)) for s in shapes]
    splits = np.cumsum(sizes)[:-1]

    def to_point(u):
        return {n: p.reshape(s) for n, p, s in zip(names, np.split(u, splits), shapes)}

    # The mode of the posterior *density of the parameters* (no Jacobian), so flat priors give the MLE.
    # FAST_RUN (PyTensor's C backend): an order of magnitude faster per gradient than the default mode
    logp = model.compile_logp(jacobian=False, mode="FAST_RUN")
    dlogp = model.compile_dlogp(jacobian=False, mode="FAST_RUN")

    def neg(u):
        val = -float(logp(to_point(u)))
        return val if np.isfinite(val) else 1e300

    def neg_grad(u):
        g = -np.asarray(dlogp(to_point(u)), dtype=float)
        return np.where(np.isfinite(g), g, 0.0)

    u0 = np.concatenate([np.ravel(init[n]) for n in names]).astype(float)
    res = optimize.minimize(neg, u0, jac=neg_grad, method="L-BFGS-B",
                            options={"maxiter": 20_000, "ftol": 1e-14, "gtol": 1e-9})
    log.debug("MAP: %d iterations, %d evaluations (%s)", res.nit, res.nfev, res.message)
    mode_u = res.x
    if not (np.all(np.isfinite(mode_u)) and np.isfinite(res.fun) and res.fun < 1e300):
        raise FitError(f"MAP optimisation did not reach a finite optimum ({res.message})")
    grad_norm = float(np.max(np.abs(neg_grad(mode_u))))
    if grad_norm > 1e-2 * max(1.0, abs(res.fun)) ** 0.5:
        raise FitError(f"MAP optimisation did not converge: gradient {grad_norm:.3g} at the end ({res.message})")
    if not laplace:
        return _to_dataset(model, names, value_vars, splits, mode_u[None, :], param_names)
    # Hessian of -logp by central differences of the exact gradient (k parameters: 2k gradient calls).
    k = mode_u.size
    hess = np.empty((k, k))
    for j in range(k):
        h = 1e-5 * max(1.0, abs(mode_u[j]))
        e = np.zeros(k)
        e[j] = h
        hess[:, j] = (neg_grad(mode_u + e) - neg_grad(mode_u - e)) / (2 * h)
    hess = 0.5 * (hess + hess.T)
    try:
        cov = np.linalg.inv(hess)
        chol = np.linalg.cholesky(0.5 * (cov + cov.T))
    except np.linalg.LinAlgError as exc:
        raise FitError(
            "the posterior's curvature at the MAP estimate is not positive definite, so no Laplace "
            "approximation exists; the data may not identify every parameter (try proper priors or NUTS)"
        ) from exc
    rng = np.random.default_rng(config.seed)
    n = config.laplace_draws
    z = rng.standard_normal((n, k))
    z[0] = 0.0
    draws_u = mode_u + z @ chol.T
    return _to_dataset(model, names, value_vars, splits, draws_u, param_names)


def _to_dataset(model, names, value_vars, splits, draws_u: np.ndarray, param_names: list[str]) -> xr.Dataset:
    """Unconstrained draws (n, k) as a posterior Dataset (chain=1, draw=n) of the parameters."""
    values = {}
    for name, vv, part in zip(names, value_vars, np.split(draws_u, splits, axis=1)):
        rv = model.values_to_rvs[vv]
        values[rv.name] = _backward(rv, model.rvs_to_transforms.get(rv), part[:, 0])
    missing = set(param_names) - set(values)
    if missing:
        raise FitError(f"parameters {sorted(missing)} are not free variables of the model")
    return xr.Dataset({p: (("chain", "draw"), values[p][None, :]) for p in param_names},
                      coords={"chain": [0], "draw": np.arange(draws_u.shape[0])})


def _backward(rv, transform, u: np.ndarray) -> np.ndarray:
    """Map unconstrained values ``u`` back to the parameter: none, log (positive parameters) and
    interval transforms (a parameter bounded below, above or both, e.g. the Gamma-Gamma q > 1)."""
    if transform is None:
        return u
    tname = type(transform).__name__
    if tname == "LogTransform":
        with np.errstate(over="ignore"):  # an overflow is an infinite draw, which check_draws refuses
            return np.exp(u)
    if tname in ("Interval", "IntervalTransform"):
        lo, hi, has_lo, has_hi = transform.get_a_and_b(rv.owner.inputs)
        lo, hi = (float(v.eval()) if hasattr(v, "eval") else float(np.asarray(v)) for v in (lo, hi))
        with np.errstate(over="ignore"):
            if has_lo and has_hi:
                return lo + (hi - lo) * special.expit(u)
            if has_lo:
                return lo + np.exp(u)
            if has_hi:
                return hi - np.exp(u)
        return u
    raise FitError(f"MAP/Laplace supports log- and interval-transformed parameters; {rv.name} uses {tname}")


@contextlib.contextmanager
def _quiet(enabled: bool):
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def diagnose(idata, param_names: list[str], method: str, sampler: str, seconds: float) -> Diagnostics:
    """R-hat, bulk and tail ESS per parameter and the number of divergences, with what failed."""
    import arviz as az

    post = idata["posterior"] if not isinstance(idata, xr.Dataset) else idata
    post_ds = post.to_dataset() if hasattr(post, "to_dataset") else post
    chains, draws = post_ds.sizes["chain"], post_ds.sizes["draw"]
    diag = Diagnostics(method=method, sampler=sampler, chains=int(chains), draws=int(draws), seconds=round(seconds, 3))
    if method != "nuts":
        diag.note = METHOD_NOTES.get(method, "")
        return diag
    rhat = az.rhat(post_ds, var_names=param_names)
    ess_b = az.ess(post_ds, var_names=param_names, method="bulk")
    ess_t = az.ess(post_ds, var_names=param_names, method="tail")
    diag.r_hat = {p: float(rhat[p]) for p in param_names}
    diag.ess_bulk = {p: float(ess_b[p]) for p in param_names}
    diag.ess_tail = {p: float(ess_t[p]) for p in param_names}
    try:
        stats = idata["sample_stats"]
        diag.divergences = int(np.asarray(stats["diverging"]).sum())
    except (KeyError, TypeError):
        diag.divergences = 0
    bad_rhat = {p: v for p, v in diag.r_hat.items() if not v < RHAT_MAX}
    ess_min = ESS_MIN_PER_CHAIN * chains
    low_ess = {p: v for p, v in diag.ess_bulk.items() if not v >= ess_min}
    low_tail = {p: v for p, v in diag.ess_tail.items() if not v >= ess_min}
    if chains < 2:
        diag.problems.append("only one chain: R-hat cannot detect non-convergence; use chains >= 2")
    if bad_rhat:
        diag.problems.append(
            "R-hat >= %.2f for %s: the chains disagree; run longer (more tune and draws; --tune, --draws on the command line) or check the priors"
            % (RHAT_MAX, ", ".join(f"{p}={v:.3f}" for p, v in bad_rhat.items())))
    if low_ess:
        diag.problems.append(
            "bulk ESS below %d for %s: too few effective draws for stable means and intervals; increase draws (--draws on the command line)"
            % (ess_min, ", ".join(f"{p}={v:.0f}" for p, v in low_ess.items())))
    if low_tail:
        diag.problems.append(
            "tail ESS below %d for %s: interval bounds are noisy; increase draws (--draws on the command line)"
            % (ess_min, ", ".join(f"{p}={v:.0f}" for p, v in low_tail.items())))
    if diag.divergences:
        diag.problems.append(
            f"{diag.divergences} divergent transitions: the sampler missed part of the posterior; raise "
            "target_accept (e.g. 0.95; --target-accept on the command line) or use more informative priors")
    return diag


def warn_if_problems(diag: Diagnostics, model_name: str) -> None:
    if diag.problems:
        warnings.warn(f"{model_name} fit diagnostics failed:\n- " + "\n- ".join(diag.problems),
                      ConvergenceWarning, stacklevel=4)  # points at the user's fit() call


def run_fit(model, param_names: list[str], config: FitConfig, model_name: str, *, derive=None):
    """Fit a built PyMC model. Returns (posterior Dataset (chain, draw), sample_stats or None, Diagnostics).

    ``derive``: a function of the posterior Dataset of ``param_names`` returning the Dataset the model keeps
    (e.g. pooled group effects sd x offset in place of the sampled offsets), applied before the
    diagnostics, so R-hat, ESS and the problems (and their warning) are those of the kept parameters."""
    start = time.perf_counter()
    if config.method == "map":
        post = fit_map(model, param_names, config)
        post = derive(post) if derive is not None else post
        diag = diagnose(post, list(post.data_vars), "map", "laplace", time.perf_counter() - start)
        return post, None, diag
    if config.method == "mode":  # the mode alone: no draws, so no R-hat or ESS (diagnose leaves them empty)
        post = fit_map(model, param_names, config, laplace=False)
        post = derive(post) if derive is not None else post
        diag = diagnose(post, list(post.data_vars), "mode", "lbfgs", time.perf_counter() - start)
        return post, None, diag
    idata, sampler, compiled = sample_nuts(model, config, model_name)
    seconds = time.perf_counter() - start
    post = idata["posterior"].to_dataset()[param_names]
    post = post.assign_coords(chain=np.arange(post.sizes["chain"]), draw=np.arange(post.sizes["draw"]))
    if derive is not None:
        post = derive(post)
        try:
            stats_node = idata["sample_stats"]
        except KeyError:
            stats_node = None
        diag = diagnose({"posterior": post, "sample_stats": stats_node}, list(post.data_vars), "nuts", sampler,
                        seconds)
    else:
        diag = diagnose(idata, param_names, "nuts", sampler, seconds)
    if compiled is not None:
        diag.compile_seconds = round(compiled.seconds, 3)
        diag.compiled = compiled.source
    try:
        stats = idata["sample_stats"].to_dataset()
    except KeyError:
        stats = None
    warn_if_problems(diag, model_name)
    return post, stats, diag
