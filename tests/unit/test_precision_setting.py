"""`train.precision`: its values, and `auto` read off the processor's flags."""

from __future__ import annotations

import pytest

from studio.config import ConfigError, make_config
from studio.training import precision

FLAGS = "processor\t: 0\nflags\t\t: fpu sse2 avx2 {extra}\nbogomips\t: 5192\n"


@pytest.mark.parametrize(
    ("extra", "native"),
    [("avx512f avx512_bf16", True), ("amx_bf16 amx_tile", True), ("avx512f avx512_vnni", False)],
)
def test_bf16_units_are_read_from_the_cpu_flags(tmp_path, extra, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(FLAGS.format(extra=extra))
    assert precision.cpu_multiplies_bf16(cpuinfo) is native


def test_an_unreadable_cpuinfo_means_float32(tmp_path):
    assert precision.cpu_multiplies_bf16(tmp_path / "absent") is False


@pytest.mark.parametrize("native", [True, False])
def test_auto_follows_the_hardware_and_explicit_settings_do_not(monkeypatch, native):
    monkeypatch.setattr(precision, "gpu_multiplies_bf16", lambda: None)
    monkeypatch.setattr(precision, "cpu_multiplies_bf16", lambda: native)
    assert precision.resolve("auto") == ("mixed_bfloat16" if native else "float32")
    assert precision.resolve("float32") == "float32"
    assert precision.resolve("bfloat16") == "mixed_bfloat16"


def test_a_gpu_decides_over_the_cpu(monkeypatch):
    monkeypatch.setattr(precision, "cpu_multiplies_bf16", lambda: True)
    monkeypatch.setattr(precision, "gpu_multiplies_bf16", lambda: False)  # a pre-Ampere GPU
    assert precision.resolve("auto") == "float32"


def test_an_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match=r"train\.precision='fp8' must be one of auto, float32"):
        make_config("cpu-quick", "digits", None, {"precision": "fp8"})


def test_old_configs_without_the_field_read_as_auto():
    from studio.config import RunConfig

    raw = make_config("cpu-quick", "digits").to_dict()
    del raw["train"]["precision"]
    assert RunConfig.from_dict(raw).train.precision == "auto"
