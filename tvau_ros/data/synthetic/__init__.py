"""Synthetic open-set video anomaly benchmark (UBnormal + ShanghaiTech layouts).

>>> from tvau_ros.data.synthetic import load_generator_config, ANOMALY_TYPES
>>> len(ANOMALY_TYPES) >= 12, load_generator_config("smoke").name
(True, 'smoke')

Generate with ``tvau data generate --config default --out DIR`` or
:func:`generate_dataset`; read back with :func:`tvau_ros.data.load_dataset`.
"""
from tvau_ros.data.synthetic.anomalies import ANOMALY_TYPES
from tvau_ros.data.synthetic.config import ConfigError, GeneratorConfig, load_generator_config
from tvau_ros.data.synthetic.generate import GenerateError, format_stats, generate_dataset, plan_jobs
from tvau_ros.data.synthetic.layouts import LAYOUTS

__all__ = ["ANOMALY_TYPES", "LAYOUTS", "ConfigError", "GenerateError", "GeneratorConfig", "format_stats",
           "generate_dataset", "load_generator_config", "plan_jobs"]
