"""Reading config files: YAML with one-line errors, ``--set`` overrides, and validation
by pydantic models whose errors name the file and the dotted key (with a did-you-mean)."""

import difflib
import inspect
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pydantic
import yaml


class ConfigError(Exception):
    """A problem in a config file or on the command line; the message names the file
    and the key."""


def read_yaml(path) -> dict:
    """The mapping in a YAML file, or a [`ConfigError`][jaxpde.app.ConfigError] saying what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a config file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (not valid UTF-8)") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys to values, got {type(raw).__name__}")
    return raw


def apply_overrides(raw: dict, overrides, path) -> dict:
    """``--set a.b=value`` overrides (value parsed as YAML) applied to a copy of `raw`;
    ``--set a.b=null`` removes the key (its default applies)."""
    import copy

    out = copy.deepcopy(raw)
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE with a dotted key, e.g. training.steps=2000")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise ConfigError(f"--set {item!r}: the key {key!r} has an empty part")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML") from None
        node = out
        for i, part in enumerate(parts[:-1]):
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"{path}: --set {key}: '{'.'.join(parts[: i + 1])}' is not a section")
            node = nxt
        if parsed is None:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = parsed
    return out


def _dotted(loc) -> str:
    # drop pydantic's names of union branches and validators ("literal[...]", "function-after[...]")
    return ".".join(str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))


def _allowed_at(model: type[pydantic.BaseModel], loc) -> list[str]:
    """The field names of the (sub)model at `loc` (for a did-you-mean)."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        annotation = fields[part].annotation
        current = annotation if inspect.isclass(annotation) else None
    return list(getattr(current, "model_fields", {}) or {})


def validate(model: type[pydantic.BaseModel], raw: dict, path, *, prefix: tuple = ()):
    """Validate `raw` against `model`; the first error becomes one [`ConfigError`][jaxpde.app.ConfigError]
    line naming the file and the dotted key (under `prefix` for a nested section)."""
    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as e:
        err = e.errors(include_url=False)[0]
        loc = err["loc"]
        key = _dotted(tuple(prefix) + tuple(loc))
        if err["type"] == "extra_forbidden":
            allowed = _allowed_at(model, loc[:-1]) or err.get("ctx", {}).get("allowed", [])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else (f"; allowed: {', '.join(allowed)}" if allowed else "")
            raise ConfigError(f"{path}: unknown key '{key}'{hint}") from None
        if err["type"] == "missing":
            raise ConfigError(f"{path}: missing key '{key}'") from None
        given = err.get("input")
        if err["type"] == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            options = [o.strip().strip("'") for o in expected.replace(" or ", ", ").split(",") if o.strip()]
            close = difflib.get_close_matches(str(given), options, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"{path}: key '{key}' must be one of {expected}, got {given!r}{hint}") from None
        msg = err["msg"]
        for old, new in (
            ("Input should be greater than or equal to", "must be >="),
            ("Input should be greater than 0", "must be positive (> 0)"),
            ("Input should be greater than", "must be >"),
            ("Input should be less than or equal to", "must be <="),
            ("Input should be a valid", "must be a valid"),
            ("Input should be", "must be"),
        ):
            if msg.startswith(old):
                msg = new + msg[len(old) :]
                break
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        shown = "" if isinstance(given, dict) or given is None else f" (got {given!r})"
        where = f"key '{key}'" if key else "the config"
        raise ConfigError(f"{path}: {where}: {msg}{shown}") from None


# --------------------------------------------------------------- keyword sections
_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _plain_name(v):
    if not _PLAIN.match(v):
        raise ValueError("must be a plain file name (letters, digits, '_', '-', '.'; no '/' or '..')")
    return v


def plain_name(v) -> bool:
    """Whether `v` can name a file inside a run directory."""
    return bool(_PLAIN.match(v))


def _finite(v):
    if isinstance(v, list):  # one value per axis or channel
        return [_finite(x) for x in v]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError("must be a number")
    if not math.isfinite(v):
        raise ValueError("must be finite")
    return v


def _integer(v):
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError("must be an integer")
    return v


def keyword_model(fn, name: str, *, skip=("key", "dtype", "checkpoint"), only=None) -> type[pydantic.BaseModel]:
    """A pydantic model of the arguments of a library constructor `fn` (those not in
    `skip`): one field per argument, typed by its default (number, integer, string,
    bool), required where it has none; unknown keys refused. The constructor itself
    checks admissibility."""
    from pydantic import BeforeValidator

    fields = {}
    for pname, p in inspect.signature(fn).parameters.items():
        if pname in skip or p.kind not in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            continue
        if only is not None and pname not in only:
            continue
        d = p.default
        if d is p.empty:  # a required argument
            fields[pname] = (Any, ...)
            continue
        if isinstance(d, bool):
            ann = bool
        elif isinstance(d, int):
            ann = Annotated[int, BeforeValidator(_integer)]
        elif isinstance(d, float):
            ann = Annotated[Any, BeforeValidator(_finite)]
        elif isinstance(d, str):
            ann = str
        else:
            ann = Any
        fields[pname] = (ann, d)
    return pydantic.create_model(name, __config__=pydantic.ConfigDict(extra="forbid"), **fields)


PlainName = Annotated[str, pydantic.AfterValidator(_plain_name)]
"""A run or file name that stays inside its directory (validated)."""


def require_precision(cfg):
    """Refuse to run a float64 config while JAX computes in float32: the library does not
    change JAX's global settings (the ``jaxpde`` command enables float64 for such configs).

    **Arguments:** `cfg`. **Returns:** ``None``.
    """
    import jax

    if cfg.precision == "float64" and not jax.config.jax_enable_x64:
        raise ValueError(f"{cfg.path} runs in float64; enable it first with jax.config.update('jax_enable_x64', True)")


class Devices(pydantic.BaseModel):
    """The ``devices:`` section. `spatial`: split every field over a device mesh (an int:
    slabs over that many devices; a list: devices per split axis, e.g. ``[4, 2]`` for
    pencils). `data`: split the batch of a training run over that many devices. A bare
    number (or list) means `spatial` in a simulate config and `data` in a train config."""

    model_config = pydantic.ConfigDict(extra="forbid")
    spatial: pydantic.PositiveInt | list[pydantic.PositiveInt] | None = None
    data: pydantic.PositiveInt | None = None


def devices_section(bare: str):
    """The type of a ``devices:`` key whose bare number means `bare` (``spatial``/``data``)."""

    def expand(v):
        return {bare: v} if isinstance(v, (int, list)) and not isinstance(v, bool) else v

    return Annotated[Devices, pydantic.BeforeValidator(expand)]


def spatial_devices(devices: Devices | None, file, what: str = "a simulation") -> tuple[int, ...] | None:
    """The spatial mesh shape of a validated ``devices:`` section (``None``: one device)."""
    if devices is None:
        return None
    if devices.data is not None:
        raise ConfigError(f"{file}: key 'devices.data' does not apply to {what}; use 'devices.spatial'")
    s = devices.spatial
    if s is None:
        return None
    return (s,) if isinstance(s, int) else tuple(s)


def device_mesh(shape: tuple[int, ...] | None, file):
    """The spatial mesh of a config, or ``None``; a config error when it cannot be made."""
    if shape is None:
        return None
    from ..grids import spatial_mesh

    try:
        return spatial_mesh(shape)
    except ValueError as e:
        raise ConfigError(f"{file}: key 'devices': {e}") from None


def run_metadata(cfg, **method) -> dict:
    """What a trajectory file records about the run that made it (the method's settings,
    the precision, the versions, the config file)."""
    import jax

    from .._version import __version__

    devices = getattr(cfg, "devices", None)
    return {
        **method,
        **({"devices": {"spatial": list(devices)}} if devices else {}),
        "precision": cfg.precision,
        "jaxpde_version": __version__,
        "jax_version": jax.__version__,
        "config_file": str(cfg.path),
    }


@dataclass
class Plan:
    """How a simulation config runs: a chunked ``advance`` from ``u0`` over ``times``,
    the trajectory file's metadata, the picture's title and maker, the PDE, the frames
    per chunk (``None``: as the recorder likes), what to try when it blows up, and
    (optionally) what the file holds instead of the state (``observe``), more datasets
    (``extra``) and the channel an animation shows (``movie_channel``)."""

    advance: Any
    u0: Any
    times: Any
    metadata: dict
    title: str
    picture: Any
    pde: Any = None
    chunk: int | None = None
    hint: str = "reduce the time step"
    observe: Any = None
    extra: dict | None = None
    movie_channel: int = 0
